//! Adapters (http/graphql): GraphQL through async-graphql and async-graphql-poem. The schema
//! calls the application's use cases; errors get a stable `extensions.code` in one place.

mod endpoint;
mod errors;
mod ide;
mod limits;
pub mod schema;
mod socket;
mod types;

pub use endpoint::{GraphqlPost, GraphqlWs};
pub use ide::{graphiql, graphiql_asset};
pub use schema::{build, sdl};
