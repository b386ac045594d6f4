//! `#[warden_tool::tool]`: turns a plain function into a warden tool.
//!
//! The attribute keeps the function as written (so its logic stays testable natively) and adds
//! a braced unit struct of the same name implementing `warden_tool::Tool`: a function and a
//! braced struct live in different namespaces, so `export_tools!(word_count)` can name the
//! struct. Invariant: every misuse this macro can see (wrong signature, missing doc comment,
//! bad name) is a compile error that says what to write instead.

mod data;

use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{
    Attribute, Expr, ExprLit, FnArg, GenericArgument, ItemFn, Lit, LitStr, Meta, PathArguments,
    ReturnType, Type, parse_macro_input,
};

/// Marks `fn name(args: Args) -> Result<Out, ToolError>` as a tool.
///
/// - The doc comment is the description the model sees (required).
/// - `Args: serde::Deserialize + schemars::JsonSchema`; its schema is the tool's args schema.
/// - `Out: serde::Serialize`; `impl Serialize` is fine.
/// - `#[tool(output)]` also declares the output schema: then `Out` must be a concrete type
///   implementing `schemars::JsonSchema`.
/// - `#[tool(name = "other-name")]` overrides the name (default: the function's name), which
///   must match `^[a-zA-Z0-9_-]{1,64}$`.
#[proc_macro_attribute]
pub fn tool(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut options = Options::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            options.name = Some(meta.value()?.parse::<LitStr>()?);
            Ok(())
        } else if meta.path.is_ident("output") {
            options.output = true;
            Ok(())
        } else {
            Err(meta.error("unknown #[tool] option; expected `name = \"...\"` or `output`"))
        }
    });
    parse_macro_input!(attr with parser);
    let function = parse_macro_input!(item as ItemFn);
    match expand(options, function) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

/// Derives what a tool's arguments type needs (`Deserialize` and `JsonSchema`) through the
/// SDK's re-exported serde and schemars, so the tool crate needs neither dependency and may
/// depend on any other version of them. Field attributes `#[serde(..)]` and `#[schemars(..)]`
/// and doc comments (which become schema descriptions) work as with the plain derives.
#[proc_macro_attribute]
pub fn args(attr: TokenStream, item: TokenStream) -> TokenStream {
    data::expand(data::Role::Args, attr.into(), item.into()).into()
}

/// Derives what a tool's output type needs (`Serialize` and `JsonSchema`) through the SDK's
/// re-exported serde and schemars; see [`macro@args`].
#[proc_macro_attribute]
pub fn output(attr: TokenStream, item: TokenStream) -> TokenStream {
    data::expand(data::Role::Output, attr.into(), item.into()).into()
}

#[derive(Default)]
struct Options {
    name: Option<LitStr>,
    output: bool,
}

fn expand(options: Options, function: ItemFn) -> syn::Result<proc_macro2::TokenStream> {
    let sig = &function.sig;
    let ident = &sig.ident;
    if let Some(asyncness) = &sig.asyncness {
        return Err(syn::Error::new(
            asyncness.span(),
            "a tool function cannot be async: tools run synchronously inside the sandbox",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            sig.generics.span(),
            "a tool function cannot be generic: its argument and output types give its schemas",
        ));
    }
    let args_ty = single_argument(&function)?;
    let output_ty = ok_type(&sig.output, sig.span())?;

    let (name, name_span) = match &options.name {
        Some(lit) => (lit.value(), lit.span()),
        None => (ident.to_string(), ident.span()),
    };
    if let Err(problem) = check_name(&name) {
        return Err(syn::Error::new(
            name_span,
            format!("invalid tool name {name:?}: {problem}"),
        ));
    }
    let description = doc_comment(&function.attrs).ok_or_else(|| {
        syn::Error::new(
            ident.span(),
            "a tool needs a doc comment (`/// ...`): it is the description the model sees, \
             saying what the tool does and when to use it",
        )
    })?;

    let output_schema = if options.output {
        if let Type::ImplTrait(_) = output_ty {
            return Err(syn::Error::new(
                output_ty.span(),
                "#[tool(output)] needs a concrete output type implementing schemars::JsonSchema, \
                 not `impl Trait`",
            ));
        }
        quote_spanned! {output_ty.span()=>
            ::std::option::Option::Some(::warden_tool::__rt::schema_of::<#output_ty>())
        }
    } else {
        quote! { ::std::option::Option::None }
    };
    let vis = &function.vis;
    let args_schema =
        quote_spanned! {args_ty.span()=> ::warden_tool::__rt::schema_of::<#args_ty>() };
    let parse = quote_spanned! {args_ty.span()=>
        let args: #args_ty = ::warden_tool::__rt::parse_args(args_json)?;
    };
    let run = quote_spanned! {sig.output.span()=> ::warden_tool::__rt::finish(#ident(args)) };

    Ok(quote! {
        #function

        #[allow(non_camel_case_types)]
        #[doc(hidden)]
        #vis struct #ident {}

        impl ::warden_tool::Tool for #ident {
            const NAME: &'static str = #name;

            fn info() -> ::warden_tool::ToolInfo {
                ::warden_tool::ToolInfo {
                    name: ::std::string::String::from(#name),
                    description: ::std::string::String::from(#description),
                    args_schema: #args_schema,
                    output_schema: #output_schema,
                }
            }

            fn invoke(args_json: &str) -> ::std::result::Result<::std::string::String, ::warden_tool::ToolError> {
                #parse
                #run
            }
        }
    })
}

/// The type of the one argument a tool function takes.
fn single_argument(function: &ItemFn) -> syn::Result<&Type> {
    let inputs = &function.sig.inputs;
    let wrong = || {
        syn::Error::new(
            if inputs.is_empty() {
                function.sig.ident.span()
            } else {
                inputs.span()
            },
            "a tool function takes exactly one argument, its arguments struct: \
             `fn name(args: Args) -> Result<Out, ToolError>` with \
             `#[warden_tool::args] struct Args { ... }`",
        )
    };
    if inputs.len() != 1 {
        return Err(wrong());
    }
    match inputs.first() {
        Some(FnArg::Typed(pat_type)) => Ok(&pat_type.ty),
        Some(FnArg::Receiver(receiver)) => Err(syn::Error::new(
            receiver.span(),
            "a tool is a free function, not a method: remove `self`",
        )),
        None => Err(wrong()),
    }
}

/// `T` in `-> Result<T, E>` (any path ending in `Result`).
fn ok_type(output: &ReturnType, fallback: Span) -> syn::Result<&Type> {
    let wrong = |span: Span| {
        syn::Error::new(
            span,
            "a tool function returns `Result<Out, warden_tool::ToolError>` where `Out: Serialize`",
        )
    };
    let ReturnType::Type(_, ty) = output else {
        return Err(wrong(fallback));
    };
    let Type::Path(path) = ty.as_ref() else {
        return Err(wrong(ty.span()));
    };
    let Some(last) = path.path.segments.last() else {
        return Err(wrong(ty.span()));
    };
    if last.ident != "Result" {
        return Err(wrong(ty.span()));
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return Err(wrong(ty.span()));
    };
    match args.args.first() {
        Some(GenericArgument::Type(ok)) => Ok(ok),
        _ => Err(wrong(ty.span())),
    }
}

/// The doc comment's text: one line per `///`, the conventional leading space removed.
fn doc_comment(attrs: &[Attribute]) -> Option<String> {
    let mut lines = Vec::new();
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        if let Meta::NameValue(nv) = &attr.meta
            && let Expr::Lit(ExprLit {
                lit: Lit::Str(text),
                ..
            }) = &nv.value
        {
            let value = text.value();
            // An empty `///` line is a paragraph break; `lines()` of "" yields nothing.
            if value.trim().is_empty() {
                lines.push(String::new());
                continue;
            }
            for line in value.lines() {
                lines.push(
                    line.strip_prefix(' ')
                        .unwrap_or(line)
                        .trim_end()
                        .to_string(),
                );
            }
        }
    }
    Some(reflow(&lines)).filter(|text| !text.is_empty())
}

/// Joins the lines of a doc comment the way Markdown reads them: lines wrapped inside a
/// paragraph become one line, blank lines stay paragraph breaks, list items start a line.
fn reflow(lines: &[String]) -> String {
    let mut text = String::new();
    let mut blank = false;
    for line in lines {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            blank = !text.is_empty();
            continue;
        }
        let list_item = trimmed.starts_with("- ") || trimmed.starts_with("* ");
        if blank {
            text.push_str("\n\n");
        } else if list_item && !text.is_empty() {
            text.push('\n');
        } else if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(line.trim_end());
        blank = false;
    }
    text
}

/// Checks `^[a-zA-Z0-9_-]{1,64}$` (valid for both OpenAI and Anthropic tool names).
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err(format!(
            "a name has 1 to 64 characters, this one has {}",
            name.len()
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(format!(
            "{bad:?} is not allowed; use only ASCII letters, digits, `_` and `-`"
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_tool_name_pattern() {
        assert!(check_name("word_count").is_ok());
        assert!(check_name("a-B_9").is_ok());
        assert!(check_name(&"x".repeat(64)).is_ok());
        assert!(check_name(&"x".repeat(65)).unwrap_err().contains("65"));
        assert!(check_name("").is_err());
        assert!(check_name("r#type").unwrap_err().contains("'#'"));
        assert!(check_name("héllo").is_err());
    }

    #[test]
    fn the_doc_comment_becomes_the_description() {
        let f: ItemFn = syn::parse_quote! {
            /// Counts words
            /// in a text.
            ///
            /// Use it on plain text:
            /// - prose
            /// - code
            fn word_count(args: Args) -> Result<u32, ToolError> { todo!() }
        };
        assert_eq!(
            doc_comment(&f.attrs).unwrap(),
            "Counts words in a text.\n\nUse it on plain text:\n- prose\n- code"
        );
    }

    #[test]
    fn misuse_is_a_clear_error() {
        let cases: [(ItemFn, &str); 5] = [
            (
                syn::parse_quote! { /// d
                fn a(x: A, y: B) -> Result<u32, ToolError> { todo!() } },
                "exactly one argument",
            ),
            (
                syn::parse_quote! { /// d
                fn a(x: A) -> u32 { todo!() } },
                "returns `Result<Out",
            ),
            (
                syn::parse_quote! { /// d
                async fn a(x: A) -> Result<u32, ToolError> { todo!() } },
                "cannot be async",
            ),
            (
                syn::parse_quote! { /// d
                fn a<T>(x: T) -> Result<u32, ToolError> { todo!() } },
                "cannot be generic",
            ),
            (
                syn::parse_quote! {
                fn a(x: A) -> Result<u32, ToolError> { todo!() } },
                "needs a doc comment",
            ),
        ];
        for (function, expected) in cases {
            let err = expand(Options::default(), function)
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{err} should contain {expected}");
        }
    }

    #[test]
    fn output_schema_needs_a_concrete_type() {
        let f: ItemFn = syn::parse_quote! {
            /// d
            fn a(x: A) -> Result<impl Serialize, ToolError> { todo!() }
        };
        let options = Options {
            name: None,
            output: true,
        };
        assert!(
            expand(options, f)
                .unwrap_err()
                .to_string()
                .contains("concrete output type")
        );
    }
}
