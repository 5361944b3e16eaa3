//! `#[derive(Module)]`: a model is its fields. The derive writes `Module::visit` and
//! `Module::visit_mut`, which walk every field in declaration order under the field's name
//! (tuple fields under their position), so parameter names are PyTorch's paths
//! (`encoder.0.weight`). Fields marked `#[module(skip)]` are left out.
//!
//! The impl is generic over the float type `F` with a `where` bound per field type
//! (`Linear<T>: Module<F>`), so one derive serves `f32` models, `f64` models and models
//! generic over `T: Float`.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use proc_macro_crate::{crate_name, FoundCrate};
use quote::quote;
use syn::{parse_macro_input, Data, DeriveInput, Fields, Ident, Index};

/// Derives `engram_nn::Module` for a struct whose fields are modules, parameters,
/// buffers, or plain data (sizes, flags).
#[proc_macro_derive(Module, attributes(module))]
pub fn derive_module(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Where the `Module` trait lives as seen from the crate being compiled: `engram_nn`
/// directly, or through the `engram` facade.
fn nn_path() -> Tokens {
    match crate_name("engram-nn") {
        Ok(FoundCrate::Itself) => quote!(::engram_nn),
        Ok(FoundCrate::Name(name)) => {
            let ident = Ident::new(&name, Span::call_site());
            quote!(::#ident)
        }
        Err(_) => match crate_name("engram") {
            Ok(FoundCrate::Name(name)) => {
                let ident = Ident::new(&name, Span::call_site());
                quote!(::#ident::nn)
            }
            Ok(FoundCrate::Itself) => quote!(::engram::nn),
            Err(_) => quote!(::engram_nn),
        },
    }
}

fn is_skipped(field: &syn::Field) -> syn::Result<bool> {
    let mut skip = false;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("module")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("skip") {
                skip = true;
                Ok(())
            } else {
                Err(meta.error("expected `#[module(skip)]`"))
            }
        })?;
    }
    Ok(skip)
}

fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "#[derive(Module)] works on structs: write `Module` by hand for an enum",
        ));
    };
    let nn = nn_path();
    let float = Ident::new("__EngramFloat", Span::call_site());

    let mut names = Vec::new();
    let mut accessors = Vec::new();
    let mut types = Vec::new();
    let fields: Vec<&syn::Field> = match &data.fields {
        Fields::Named(f) => f.named.iter().collect(),
        Fields::Unnamed(f) => f.unnamed.iter().collect(),
        Fields::Unit => Vec::new(),
    };
    for (i, field) in fields.into_iter().enumerate() {
        if is_skipped(field)? {
            continue;
        }
        match &field.ident {
            Some(ident) => {
                names.push(ident.to_string());
                accessors.push(quote!(#ident));
            }
            None => {
                names.push(i.to_string());
                let index = Index::from(i);
                accessors.push(quote!(#index));
            }
        }
        types.push(field.ty.clone());
    }

    let ident = &input.ident;
    let (_, type_generics, where_clause) = input.generics.split_for_impl();
    // Defaults (`T: Float = f32`) belong on the struct, not on an impl's parameters.
    let mut generics = input.generics.clone();
    for param in generics.type_params_mut() {
        param.eq_token = None;
        param.default = None;
    }
    let params = &generics.params;
    let impl_params = if params.is_empty() {
        quote!(#float: #nn::__private::Float)
    } else {
        quote!(#float: #nn::__private::Float, #params)
    };
    let existing = where_clause.map(|w| {
        let preds = &w.predicates;
        quote!(#preds,)
    });

    Ok(quote! {
        #[allow(private_bounds)]
        impl<#impl_params> #nn::Module<#float> for #ident #type_generics
        where
            #existing
            #(#types: #nn::Module<#float>,)*
        {
            fn visit<'__a>(&'__a self, visitor: &mut dyn #nn::Visitor<'__a, #float>) {
                #(
                    visitor.enter(#names);
                    #nn::Module::<#float>::visit(&self.#accessors, visitor);
                    visitor.leave();
                )*
            }
            fn visit_mut<'__a>(&'__a mut self, visitor: &mut dyn #nn::VisitorMut<'__a, #float>) {
                #(
                    visitor.enter(#names);
                    #nn::Module::<#float>::visit_mut(&mut self.#accessors, visitor);
                    visitor.leave();
                )*
            }
        }
    })
}
