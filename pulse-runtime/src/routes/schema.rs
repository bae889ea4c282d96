//! A route table as data: what `pulse-client-gen` renders the TypeScript `routes` from.

use crate::typed::schema::TypeRef;

/// One page's route.
#[derive(Debug, Clone)]
pub struct RouteSchema {
    /// The variant's name (`Room`); TypeScript's is its camelCase (`room`).
    pub name: &'static str,
    /// The variant's doc comment.
    pub docs: &'static str,
    /// The path's segments, in order.
    pub segments: Vec<SegmentSchema>,
    /// The query's parameters.
    pub query: Vec<ParamSchema>,
}

impl RouteSchema {
    /// Every parameter: the path's, then the query's.
    pub fn params(&self) -> impl Iterator<Item = &ParamSchema> {
        let path = self.segments.iter().filter_map(|segment| match segment {
            SegmentSchema::Param(param) | SegmentSchema::Rest(param) => Some(param),
            SegmentSchema::Literal(_) => None,
        });
        path.chain(&self.query)
    }
}

/// One segment of a route's path.
#[derive(Debug, Clone)]
pub enum SegmentSchema {
    /// Text that must be there (`rooms`).
    Literal(&'static str),
    /// A parameter (`{room}`).
    Param(ParamSchema),
    /// The rest of the path (`{*path}`).
    Rest(ParamSchema),
}

/// A route's parameter.
#[derive(Debug, Clone)]
pub struct ParamSchema {
    /// Its name (the field's).
    pub name: &'static str,
    /// Its type (an `Option`'s inner type for an optional query parameter).
    pub ty: TypeRef,
    /// Whether the address must have it (every path parameter; a query parameter
    /// whose field is not an `Option`).
    pub required: bool,
}
