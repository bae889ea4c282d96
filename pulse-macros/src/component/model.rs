//! The parsed model of a component declaration.

use syn::{Attribute, Block, Ident, ReturnType, Type, Visibility};

/// `#[component] fn Name(cx: &mut Scope, props..) -> Node { body }`.
pub(crate) struct ServerComponent {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub ident: Ident,
    /// The scope parameter as written (`cx: &mut Scope`), when it is one.
    pub scope: Option<syn::PatType>,
    pub props: Vec<Prop>,
    pub output: ReturnType,
    pub block: Box<Block>,
}

/// One prop: a parameter after the scope, a field of the props struct.
pub(crate) struct Prop {
    pub attrs: Vec<Attribute>,
    pub ident: Ident,
    pub ty: Type,
}

impl ServerComponent {
    /// Whether the model is complete enough to render the component's body (otherwise
    /// only its skeleton is rendered).
    pub(crate) fn has_body(&self) -> bool {
        self.scope.is_some() && !matches!(self.output, ReturnType::Default)
    }
}

/// `#[component(client)] pub struct Name { props.. }`.
pub(crate) struct ClientProps {
    pub item: syn::ItemStruct,
    /// Whether the struct sets its own `#[serde(rename_all = ..)]` (else camelCase).
    pub renames_fields: bool,
}
