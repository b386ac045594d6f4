//! `warden pack build` on a typed WIT component crate (no `warden:tool`): the doc comments of
//! its `wit/` folder, a dependency package in `wit/deps/` included, are embedded in the
//! component it writes, so the installed pack's tools carry the WIT descriptions rather
//! than ones generated from their signatures; WIT that does not parse is refused, naming
//! the file. Real cargo, real wit-bindgen, the real binary.

use std::path::Path;

use mock_llm::Turn;

use crate::author::command;
use crate::support::{Fixture, assert_code, text};

const CARGO_TOML: &str = r#"[package]
name = "geo-tools"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
wit-bindgen = { version = "0.60", default-features = false, features = ["macros", "realloc"] }

[profile.release]
opt-level = "s"

[workspace]
"#;

const WORLD_WIT: &str = r#"package demo:geo-tools@0.1.0;

world geo {
    /// Says which quadrant (1 to 4) the point (x, y) is in.
    export quadrant: func(x: f64, y: f64) -> u32;
    export demo:shapes/geometry@0.1.0;
}
"#;

/// A dependency package: its interface, type and field docs must reach the tools too.
const DEP_WIT: &str = r#"package demo:shapes@0.1.0;

interface geometry {
    /// A point in the plane.
    record point {
        /// Distance along the horizontal axis.
        x: f64,
        y: f64,
    }

    /// The straight-line distance between two points.
    distance: func(a: point, b: point) -> f64;
}
"#;

const LIB_RS: &str = r#"wit_bindgen::generate!({ path: "wit", world: "geo" });

use exports::demo::shapes::geometry::{self, Point};

struct Geo;

impl Guest for Geo {
    fn quadrant(x: f64, y: f64) -> u32 {
        match (x >= 0.0, y >= 0.0) {
            (true, true) => 1,
            (false, true) => 2,
            (false, false) => 3,
            (true, false) => 4,
        }
    }
}

impl geometry::Guest for Geo {
    fn distance(a: Point, b: Point) -> f64 {
        ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt()
    }
}

export!(Geo);
"#;

const PACK_TOML: &str = r#"schema = 1

[pack]
name = "geo-tools"
version = "0.1.0"
description = "Plane geometry"
authors = []
license = "Apache-2.0"

[capabilities.limits]
fuel = { default = 100000000, max = 1000000000 }
timeout = { default = "2s", max = "10s" }
memory = { default = "16MiB", max = "64MiB" }
"#;

/// Writes the crate at `dir` (the guest workspace's Cargo.lock, so its crates come from
/// cargo's cache).
fn write_crate(dir: &Path) {
    let lock = concat!(env!("CARGO_MANIFEST_DIR"), "/../../guest-tools/Cargo.lock");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::create_dir_all(dir.join("wit/deps/shapes")).unwrap();
    for (file, body) in [
        ("Cargo.toml", CARGO_TOML),
        ("src/lib.rs", LIB_RS),
        ("pack.toml", PACK_TOML),
        ("wit/world.wit", WORLD_WIT),
        ("wit/deps/shapes/geometry.wit", DEP_WIT),
    ] {
        std::fs::write(dir.join(file), body).unwrap();
    }
    std::fs::copy(lock, dir.join("Cargo.lock")).unwrap();
}

fn tool<'a>(list: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    (list["tools"].as_array().unwrap().iter())
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no tool {name} in {list}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_pack_carries_its_wit_docs_from_build_to_the_model() {
    let fx = Fixture::new(vec![
        Turn::call("quadrant", r#"{"x":1.5,"y":-2}"#),
        Turn::text("Fourth."),
    ])
    .await;
    let krate = fx.dir.path().join("geo-tools");
    write_crate(&krate);
    let out = command(&fx, &["pack", "build", "geo-tools"])
        .output()
        .await
        .unwrap();
    assert_code(&out, 0);
    let pack = krate.join("pack");
    let component = pack.join("geo_tools.wasm");

    // The bytes written are the ones with docs, and pack.toml's digest is over them.
    let bytes = std::fs::read(&component).unwrap();
    let docs = warden_wit::docs::PackageDocs::read(&bytes).expect("a package-docs section");
    assert_eq!(
        docs.function(None, "quadrant"),
        Some("Says which quadrant (1 to 4) the point (x, y) is in.")
    );
    let manifest = std::fs::read_to_string(pack.join("pack.toml")).unwrap();
    let digest = warden_pack::sha256_hex(&bytes);
    assert!(manifest.contains(&digest), "{manifest}");

    let list = fx
        .run(&["tool", "list", "--json", component.to_str().unwrap()])
        .await;
    assert_code(&list, 0);
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let distance = tool(&list, "geometry_distance");
    assert_eq!(
        distance["description"],
        "The straight-line distance between two points."
    );
    let a = &distance["args_schema"]["properties"]["a"];
    assert_eq!(a["description"], "A point in the plane.");
    assert_eq!(
        a["properties"]["x"]["description"],
        "Distance along the horizontal axis."
    );

    let p = pack.to_str().unwrap();
    for args in [
        vec!["key", "generate", "--out", "k"],
        vec!["trust", "add", "k.pub"],
        vec!["pack", "sign", p, "--key", "k.key"],
        vec!["pack", "install", p, "--yes"],
    ] {
        assert_code(&fx.run(&args).await, 0);
    }
    let agent = fx.agent(&format!(
        "{}[[tools]]\npack = \"geo-tools@^0.1\"\n",
        fx.openai()
    ));
    let out = fx.run(&["run", agent.to_str().unwrap(), "Where?"]).await;
    assert_code(&out, 0);
    let requests = fx.requests();
    let offered = requests[0].body.to_string();
    assert!(
        offered.contains("Says which quadrant (1 to 4)"),
        "the model sees the WIT doc comment: {offered}"
    );
    assert!(
        requests[1].body.to_string().contains('4'),
        "{}",
        requests[1].body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wit_that_does_not_parse_is_refused_naming_the_file() {
    let fx = Fixture::new(vec![]).await;
    let krate = fx.dir.path().join("geo-tools");
    write_crate(&krate);
    // A crate whose bindings come from one file, wit/world.wit (so it builds), beside a
    // draft that does not parse: the docs are read from the whole wit/ folder.
    std::fs::remove_dir_all(krate.join("wit/deps")).unwrap();
    std::fs::write(
        krate.join("wit/world.wit"),
        "package demo:geo-tools@0.1.0;\nworld geo {\n    export quadrant: func(x: f64, y: f64) -> u32;\n}\n",
    )
    .unwrap();
    let lib = LIB_RS.replace(r#"path: "wit""#, r#"path: "wit/world.wit""#);
    let lib = &lib[..lib.find("impl geometry::Guest").unwrap()];
    let lib = lib.replace("use exports::demo::shapes::geometry::{self, Point};", "");
    std::fs::write(krate.join("src/lib.rs"), format!("{lib}export!(Geo);\n")).unwrap();
    std::fs::write(
        krate.join("wit/draft.wit"),
        "package demo:geo-tools@0.1.0;\ninterface draft { f: func(x: nope); }\n",
    )
    .unwrap();
    let out = command(&fx, &["pack", "build", "geo-tools"])
        .output()
        .await
        .unwrap();
    assert_code(&out, 1);
    let err = text(&out.stderr);
    assert!(
        err.contains("draft.wit") && err.contains("doc comments"),
        "{err}"
    );
    assert!(!krate.join("pack").exists(), "nothing written");
}
