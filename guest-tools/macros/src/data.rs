//! `#[warden_tool::args]` and `#[warden_tool::output]`: derive serde and schemars for a tool's
//! argument and output types through the SDK's own re-exports.
//!
//! Why: a plain `#[derive(JsonSchema)]` implements the trait of whatever `schemars` the tool
//! crate depends on, and the SDK's `schema_of::<T>()` needs its own major version; with another
//! one the build fails deep inside generated code. These attributes name
//! `::warden_tool::serde` and `::warden_tool::schemars` (also in the derives' `crate = ".."`
//! options), so the tool crate needs neither dependency and any version it has is irrelevant.
//! Invariant: the item is emitted unchanged apart from the added attributes, after the derive,
//! so the user's own `#[serde(..)]` and `#[schemars(..)]` field attributes keep working.

use proc_macro2::TokenStream;
use quote::quote;

/// Which traits a data attribute derives.
#[derive(Clone, Copy)]
pub(crate) enum Role {
    /// `Deserialize + JsonSchema`: a tool's arguments.
    Args,
    /// `Serialize + JsonSchema`: a tool's output.
    Output,
}

/// Expands `#[args]` / `#[output]` on `item`; `attr` must be empty.
pub(crate) fn expand(role: Role, attr: TokenStream, item: TokenStream) -> TokenStream {
    let name = match role {
        Role::Args => "args",
        Role::Output => "output",
    };
    if !attr.is_empty() {
        let message = format!(
            "#[warden_tool::{name}] takes no options; put serde or schemars options on the item \
             as #[serde(..)] or #[schemars(..)]"
        );
        return syn::Error::new_spanned(attr, message).to_compile_error();
    }
    let item: syn::DeriveInput = match syn::parse2(item) {
        Ok(item) => item,
        Err(error) => {
            let message = format!(
                "#[warden_tool::{name}] goes on a struct or an enum (the type of a tool's {name}): {error}"
            );
            return syn::Error::new(error.span(), message).to_compile_error();
        }
    };
    let serde_trait = match role {
        Role::Args => quote!(::warden_tool::serde::Deserialize),
        Role::Output => quote!(::warden_tool::serde::Serialize),
    };
    quote! {
        #[derive(#serde_trait, ::warden_tool::schemars::JsonSchema)]
        #[serde(crate = "::warden_tool::serde")]
        #[schemars(crate = "::warden_tool::schemars")]
        #item
    }
}
