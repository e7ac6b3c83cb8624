//! Adapters (graphql): the alias limit async-graphql does not have (depth and complexity
//! are its own), counted over every operation and fragment of a parsed document. It is a
//! schema extension, so it holds for every transport (`POST /graphql` and the WebSocket).

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerError, ServerResult, Variables};

/// The stable code of a query refused for its aliases.
const TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";

/// Refuses a document with more than this many aliased fields, once it is parsed.
pub(crate) struct AliasLimit(pub usize);

impl ExtensionFactory for AliasLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AliasCheck(self.0))
    }
}

struct AliasCheck(usize);

#[async_graphql::async_trait::async_trait]
impl Extension for AliasCheck {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if aliases(&document) > self.0 {
            let mut error =
                ServerError::new(format!("the query has more than {} aliases", self.0), None);
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", TOO_COMPLEX);
            return Err(error);
        }
        Ok(document)
    }
}

fn count(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some()) + count(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => count(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// The number of aliased fields in a document.
pub(crate) fn aliases(document: &ExecutableDocument) -> usize {
    let in_operations: usize = document
        .operations
        .iter()
        .map(|(_, op)| count(&op.node.selection_set.node))
        .sum();
    let in_fragments: usize = document
        .fragments
        .values()
        .map(|f| count(&f.node.selection_set.node))
        .sum();
    in_operations + in_fragments
}

#[cfg(test)]
mod tests {
    use super::aliases;

    #[test]
    fn aliases_are_counted_in_operations_and_fragments() {
        let doc = async_graphql::parser::parse_query(
            "query { a: health b: version ... on Query { c: health } ...F } fragment F on Query { d: version e: health }",
        )
        .unwrap();
        assert_eq!(aliases(&doc), 5);
        let none = async_graphql::parser::parse_query("{ health version }").unwrap();
        assert_eq!(aliases(&none), 0);
    }
}
