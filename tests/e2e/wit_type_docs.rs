//! Doc comments of a typed component's named types in its tools' schemas: the `typed`
//! guest's WIT source documents records and fields, variant and enum cases and flags;
//! warden extracts them (`PackageDocs::from_wit`), embeds them in the component's
//! `package-docs` section, and at load attaches them by type name to the `description`s of
//! the argument and output schemas — without changing what the schemas accept.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use warden_e2e::sandbox::{executor, quick_policy};
use warden_sandbox::ToolSet;
use warden_wit::docs::{PackageDocs, embed};

/// The typed guest's WIT source.
const TYPED_WIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../guest-tools/typed/wit");

async fn documented() -> Arc<ToolSet> {
    let docs = PackageDocs::from_wit(Path::new(TYPED_WIT)).unwrap();
    let bytes = std::fs::read(warden::testing::guests::TYPED).unwrap();
    let with_docs = embed(&bytes, &docs).unwrap();
    executor().load_bytes(&with_docs).await.unwrap()
}

async fn plain() -> Arc<ToolSet> {
    executor()
        .load_file(warden::testing::guests::TYPED)
        .await
        .unwrap()
}

/// `schema` without its `description`s.
fn undescribed(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| *k != "description")
                .map(|(k, v)| (k.clone(), undescribed(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(undescribed).collect()),
        other => other.clone(),
    }
}

#[tokio::test]
async fn record_and_field_docs_describe_the_output_schema() {
    let set = documented().await;
    let count = set.tool("text_count").unwrap();
    assert_eq!(count.description, "Word and byte counts of `text`.");
    let output = count.output_schema.as_ref().unwrap();
    assert_eq!(output["description"], "Counts in a text.");
    let props = &output["properties"];
    assert_eq!(
        props["words"]["description"],
        "How many whitespace-separated words."
    );
    assert_eq!(
        props["mean-word-length"]["description"],
        "Bytes per word, on average."
    );
    // An option field's doc sits beside its `anyOf`.
    assert_eq!(
        props["longest"]["description"],
        "The longest word, if there is any."
    );
    assert!(props["longest"]["anyOf"].is_array());
}

#[tokio::test]
async fn variant_enum_and_flags_docs_describe_the_arguments() {
    let set = documented().await;
    let area = &set.tool("text_area").unwrap().args_schema["properties"]["shape"];
    assert_eq!(area["description"], "A shape to measure.");
    assert_eq!(area["oneOf"][0]["description"], "A circle of this radius.");
    assert_eq!(area["oneOf"][1]["description"], "A square of this side.");
    // An undocumented case has no description.
    assert!(area["oneOf"][2].get("description").is_none(), "{area}");

    let colour = &set.tool("text_next-colour").unwrap().args_schema["properties"]["colour"];
    assert_eq!(
        colour["description"],
        "A colour of the wheel.\n\n`red`: The first colour."
    );
    let perms = &set.tool("text_toggle").unwrap().args_schema["properties"]["perms"];
    assert_eq!(
        perms["description"],
        "What may be done with a file.\n\n`write`: Changing it."
    );
}

#[tokio::test]
async fn docs_only_describe_what_the_schemas_accept_and_calls_are_unchanged() {
    let (with, without) = (documented().await, plain().await);
    assert_eq!(with.tools().len(), without.tools().len());
    for (a, b) in with.tools().iter().zip(without.tools()) {
        assert_eq!(a.name, b.name);
        assert_eq!(undescribed(&a.args_schema), undescribed(&b.args_schema));
        assert_eq!(
            a.output_schema.as_ref().map(undescribed),
            b.output_schema.as_ref().map(undescribed),
            "{}",
            a.name
        );
    }
    // Without the section, no type docs at all.
    let count = without.tool("text_count").unwrap();
    assert!(
        count
            .output_schema
            .as_ref()
            .unwrap()
            .get("description")
            .is_none()
    );
    let outcome = executor()
        .call(&with, "text_count", r#"{"text":"a bb"}"#, &quick_policy())
        .await;
    let output: Value = serde_json::from_str(&outcome.result.unwrap()).unwrap();
    assert_eq!(output["words"], json!(2));
}

#[test]
fn wit_source_that_does_not_parse_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.wit");
    std::fs::write(&bad, "package a:b;\ninterface i { f: func(x: nope); }\n").unwrap();
    let err = PackageDocs::from_wit(&bad).unwrap_err().to_string();
    assert!(
        err.contains("bad.wit") && err.contains("not a valid WIT package"),
        "{err}"
    );
    let missing = PackageDocs::from_wit(&dir.path().join("absent.wit")).unwrap_err();
    assert!(missing.to_string().contains("absent.wit"), "{missing}");
}
