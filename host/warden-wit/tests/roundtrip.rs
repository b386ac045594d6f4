//! Property test of the one WIT ↔ JSON mapping: for random WIT types and values, what the
//! writer produces validates against the type's schema and reads back to the same value;
//! and for random (and near-miss) JSON, the reader accepts exactly what the schema accepts.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use proptest::strategy::Union;
use serde_json::{Number, Value, json};
use warden_wit::{WitType, read, schema, write};
use wasmtime::component::Val;

/// Names from a small pool, so random JSON often hits real field, case and flag names.
const NAMES: &[&str] = &["a", "b", "c", "tag", "value", "ok", "err", "some"];

fn names(min: usize) -> impl Strategy<Value = Vec<String>> {
    subsequence(NAMES, min..=5)
        .prop_shuffle()
        .prop_map(|v| v.into_iter().map(String::from).collect())
}

fn wit_type() -> impl Strategy<Value = WitType> {
    let leaf = select(vec![
        WitType::Bool,
        WitType::S8,
        WitType::U8,
        WitType::S16,
        WitType::U16,
        WitType::S32,
        WitType::U32,
        WitType::S64,
        WitType::U64,
        WitType::F32,
        WitType::F64,
        WitType::Char,
        WitType::String,
    ]);
    leaf.prop_recursive(4, 24, 4, |inner| {
        let opt = || proptest::option::of(inner.clone().prop_map(Box::new));
        prop_oneof![
            inner.clone().prop_map(|t| WitType::List(Box::new(t))),
            (names(0), vec(inner.clone(), 5))
                .prop_map(|(n, t)| WitType::Record(n.into_iter().zip(t).collect())),
            vec(inner.clone(), 0..4).prop_map(WitType::Tuple),
            (names(1), vec(proptest::option::of(inner.clone()), 5))
                .prop_map(|(n, t)| WitType::Variant(n.into_iter().zip(t).collect())),
            names(1).prop_map(WitType::Enum),
            names(0).prop_map(WitType::Flags),
            inner.clone().prop_map(|t| WitType::Option(Box::new(t))),
            (opt(), opt()).prop_map(|(ok, err)| WitType::Result { ok, err }),
        ]
    })
}

fn finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |x| x.is_finite()),
        Just(-0.0),
        Just(f64::MAX)
    ]
}

fn value(ty: &WitType) -> BoxedStrategy<Val> {
    let boxed = |s: BoxedStrategy<Val>| s.prop_map(Box::new);
    match ty {
        WitType::Bool => any::<bool>().prop_map(Val::Bool).boxed(),
        WitType::S8 => any::<i8>().prop_map(Val::S8).boxed(),
        WitType::U8 => any::<u8>().prop_map(Val::U8).boxed(),
        WitType::S16 => any::<i16>().prop_map(Val::S16).boxed(),
        WitType::U16 => any::<u16>().prop_map(Val::U16).boxed(),
        WitType::S32 => any::<i32>().prop_map(Val::S32).boxed(),
        WitType::U32 => any::<u32>().prop_map(Val::U32).boxed(),
        WitType::S64 => prop_oneof![any::<i64>(), Just(i64::MIN), Just((1 << 53) + 1)]
            .prop_map(Val::S64)
            .boxed(),
        WitType::U64 => prop_oneof![any::<u64>(), Just(u64::MAX)]
            .prop_map(Val::U64)
            .boxed(),
        WitType::F32 => any::<f32>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(Val::Float32)
            .boxed(),
        WitType::F64 => finite_f64().prop_map(Val::Float64).boxed(),
        WitType::Char => any::<char>().prop_map(Val::Char).boxed(),
        WitType::String => any::<String>().prop_map(Val::String).boxed(),
        WitType::List(item) => vec(value(item), 0..3).prop_map(Val::List).boxed(),
        WitType::Record(fields) => {
            let names: Vec<String> = fields.iter().map(|(n, _)| n.clone()).collect();
            fields
                .iter()
                .map(|(_, t)| value(t))
                .collect::<Vec<_>>()
                .prop_map(move |vals| Val::Record(names.clone().into_iter().zip(vals).collect()))
                .boxed()
        }
        WitType::Tuple(types) => types
            .iter()
            .map(value)
            .collect::<Vec<_>>()
            .prop_map(Val::Tuple)
            .boxed(),
        WitType::Variant(cases) => Union::new(cases.iter().map(|(n, t)| {
            let n = n.clone();
            match t {
                None => Just(Val::Variant(n, None)).boxed(),
                Some(t) => boxed(value(t))
                    .prop_map(move |v| Val::Variant(n.clone(), Some(v)))
                    .boxed(),
            }
        }))
        .boxed(),
        WitType::Enum(names) => select(names.clone()).prop_map(Val::Enum).boxed(),
        WitType::Flags(names) => subsequence(names.clone(), 0..=names.len())
            .prop_map(Val::Flags)
            .boxed(),
        WitType::Option(inner) => proptest::option::of(boxed(value(inner)))
            .prop_map(Val::Option)
            .boxed(),
        WitType::Result { ok, err } => {
            let side = |t: &Option<Box<WitType>>| match t {
                None => Just(None).boxed(),
                Some(t) => boxed(value(t)).prop_map(Some).boxed(),
            };
            prop_oneof![side(ok).prop_map(Ok), side(err).prop_map(Err)]
                .prop_map(Val::Result)
                .boxed()
        }
        _ => unreachable!("the generator makes no other types"),
    }
}

fn type_and_value() -> impl Strategy<Value = (WitType, Val)> {
    wit_type().prop_flat_map(|t| {
        let v = value(&t);
        (Just(t), v)
    })
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        prop_oneof![
            Just(1.0),
            Just(-3.0),
            Just(1e300),
            Just(0.5),
            Just(3.5e38),
            any::<f64>()
        ]
        .prop_filter_map("finite", Number::from_f64)
        .prop_map(Value::Number),
        select(NAMES).prop_map(|s| json!(s)),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 20, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(select(NAMES).prop_map(String::from), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// `json` with its `k`-th node (pre-order, modulo the node count) replaced by `with`.
fn mutate(json: &mut Value, k: usize, with: Value) {
    fn count(v: &Value) -> usize {
        1 + match v {
            Value::Array(a) => a.iter().map(count).sum(),
            Value::Object(o) => o.values().map(count).sum(),
            _ => 0,
        }
    }
    fn visit(v: &mut Value, k: &mut usize, with: &mut Option<Value>) {
        if *k == 0 {
            if let Some(w) = with.take() {
                *v = w;
            }
            return;
        }
        *k -= 1;
        match v {
            Value::Array(a) => a.iter_mut().for_each(|c| visit(c, k, with)),
            Value::Object(o) => o.values_mut().for_each(|c| visit(c, k, with)),
            _ => {}
        }
    }
    let mut k = k % count(json);
    visit(json, &mut k, &mut Some(with));
}

/// The reader and the schema agree on `json`, both ways.
fn agree(ty: &WitType, json: &Value) -> Result<(), TestCaseError> {
    let validator = jsonschema::validator_for(&schema(ty)).unwrap();
    let valid = validator.is_valid(json);
    let read = read(ty, json);
    prop_assert_eq!(
        valid,
        read.is_ok(),
        "schema valid: {}, reader: {:?}\ntype: {}\njson: {}",
        valid,
        read,
        ty.wit(),
        json
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn written_values_validate_and_read_back((ty, val) in type_and_value()) {
        let written = write(&ty, &val).unwrap();
        // Through text, as an MCP client or a model would send it back.
        let json: Value = serde_json::from_str(&written.to_string()).unwrap();
        let validator = jsonschema::validator_for(&schema(&ty)).unwrap();
        prop_assert!(validator.is_valid(&json), "{} does not validate against the schema of {}", json, ty.wit());
        prop_assert_eq!(read(&ty, &json).unwrap(), val);
    }

    #[test]
    fn reader_and_schema_agree_on_random_json(ty in wit_type(), json in any_json()) {
        agree(&ty, &json)?;
    }

    #[test]
    fn reader_and_schema_agree_on_near_misses(
        (ty, val) in type_and_value(),
        k in any::<usize>(),
        with in any_json(),
    ) {
        let mut json = write(&ty, &val).unwrap();
        mutate(&mut json, k, with);
        agree(&ty, &json)?;
    }
}

#[test]
fn non_finite_floats_are_write_errors_not_strings() {
    for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let err = write(&WitType::F64, &Val::Float64(x)).unwrap_err();
        assert!(err.message.contains("JSON cannot represent"), "{err}");
    }
    let err = write(
        &WitType::List(Box::new(WitType::F32)),
        &Val::List(vec![Val::Float32(1.0), Val::Float32(f32::NAN)]),
    )
    .unwrap_err();
    assert_eq!(err.path, "/1");
}

#[test]
fn sixty_four_bit_integers_stay_exact() {
    let big = (1u64 << 53) + 1;
    let json: Value =
        serde_json::from_str(&write(&WitType::U64, &Val::U64(big)).unwrap().to_string()).unwrap();
    assert_eq!(read(&WitType::U64, &json).unwrap(), Val::U64(big));
    assert_eq!(
        read(&WitType::U64, &json!(u64::MAX)).unwrap(),
        Val::U64(u64::MAX)
    );
    assert!(read(&WitType::U8, &json!(256)).is_err());
    assert!(read(&WitType::S64, &json!(u64::MAX)).is_err());
}
