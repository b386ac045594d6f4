//! A tool crate whose own `schemars` is 0.8 while the SDK uses 1: the regression guest for
//! "a tool that depends on another schemars version fails to compile". `cargo test` in
//! `guest-tools/` compiling this crate is the test; the unit tests check that the tool's schema
//! comes from the SDK's schemars and the crate's own type from 0.8.

use warden_tool::{ToolError, tool};

/// A type of the crate's own, described with its own schemars 0.8.
#[derive(schemars::JsonSchema, serde::Serialize)]
pub struct Legacy {
    /// A field.
    pub value: u32,
}

/// Arguments of `shout`.
#[warden_tool::args]
pub struct ShoutArgs {
    /// The text to shout.
    pub text: String,
    /// How many exclamation marks (default 1).
    #[serde(default = "one")]
    pub marks: u8,
}

fn one() -> u8 {
    1
}

/// What `shout` returns.
#[warden_tool::output]
pub struct Shouted {
    /// The text in capitals.
    pub text: String,
}

/// Shouts the text: capitals and exclamation marks.
#[tool(output)]
pub fn shout(args: ShoutArgs) -> Result<Shouted, ToolError> {
    if args.marks > 10 {
        return Err(ToolError::invalid_args("marks must be at most 10"));
    }
    Ok(Shouted {
        text: format!(
            "{}{}",
            args.text.to_uppercase(),
            "!".repeat(args.marks.into())
        ),
    })
}

warden_tool::export_tools!(shout);

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;
    use warden_tool::Tool;

    #[test]
    fn the_tool_schema_comes_from_the_sdks_schemars() {
        let info = <shout as Tool>::info();
        let schema: warden_tool::serde_json::Value =
            warden_tool::serde_json::from_str(&info.args_schema).unwrap();
        // schemars 1 writes draft 2020-12; 0.8 would write draft-07.
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        assert_eq!(
            schema["properties"]["text"]["description"],
            "The text to shout."
        );
        assert_eq!(schema["required"], warden_tool::serde_json::json!(["text"]));
        assert!(
            info.output_schema
                .unwrap()
                .contains("The text in capitals.")
        );
    }

    #[test]
    fn the_crates_own_type_uses_its_own_schemars() {
        let schema = schemars::schema_for!(Legacy);
        let json = warden_tool::serde_json::to_value(&schema).unwrap();
        assert_eq!(json["$schema"], "http://json-schema.org/draft-07/schema#");
    }

    #[test]
    fn serde_field_attributes_work_through_the_sdk_attribute() {
        let out = <shout as Tool>::invoke(r#"{"text":"hi"}"#).unwrap();
        assert_eq!(out, r#"{"text":"HI!"}"#);
        let err = <shout as Tool>::invoke(r#"{"text":"hi","marks":11}"#).unwrap_err();
        assert!(format!("{err:?}").contains("at most 10"), "{err:?}");
    }
}
