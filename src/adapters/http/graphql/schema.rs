//! Adapters (graphql): the schema. The upstream shape (`health`, `version`,
//! `executePlaybook`, `rerunExecution`, `ExecuteResult`) plus execution queries, cancel, and
//! a subscription that reads the same per-client event log as the SSE stream.

use std::sync::Arc;

use async_graphql::{Context, Json, Object, Result, Schema, Subscription};
use futures_util::{Stream, StreamExt};
use serde_json::{Map, Value};

use super::errors::{bad_input, forbidden, from_auth, from_execution, too_many};
use super::types::{ExecuteResult, Execution, ExecutionEvent};
use crate::app::Gateway;
use crate::app::executions::ExecuteCommand;
use crate::domain::{
    AccessQuery, ClientId, EventCursor, ExecutionId, IdempotencyKey, Permission, PlaybookPath,
    RequestId, Session, SessionToken,
};

/// The verified caller of one GraphQL request or subscription connection.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token: SessionToken,
    pub session: Arc<Session>,
}

/// The subscriptions one WebSocket may run at once: each running one holds a place.
#[derive(Debug)]
pub struct SocketSubscriptions(crate::sync::Places);

impl SocketSubscriptions {
    pub fn new(at_most: usize) -> Self {
        Self(crate::sync::Places::new(at_most))
    }

    /// A place for one more subscription, held until it ends.
    fn take(&self) -> Result<tokio::sync::OwnedSemaphorePermit> {
        self.0.take().ok_or_else(|| {
            too_many("this socket runs as many subscriptions as it may; complete one first")
        })
    }
}

/// An `Idempotency-Key` header, when the request had one.
#[derive(Debug, Clone)]
pub struct IdempotencyHeader(pub String);

pub type GatewaySchema = Schema<Query, Mutation, SubscriptionRoot>;

fn gateway<'a>(ctx: &Context<'a>) -> Result<&'a Arc<Gateway>> {
    ctx.data::<Arc<Gateway>>()
}

fn caller<'a>(ctx: &Context<'a>) -> Result<&'a Caller> {
    ctx.data::<Caller>()
}

fn as_object(value: Option<Json<Value>>) -> Result<Map<String, Value>> {
    match value.map(|Json(v)| v) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(_) => Err(bad_input("variables must be a JSON object")),
    }
}

fn client(id: Option<String>) -> Result<Option<ClientId>> {
    id.map(|c| ClientId::parse(&c).map_err(|e| bad_input(e.to_string())))
        .transpose()
}

fn execution_id(raw: &str) -> Result<ExecutionId> {
    ExecutionId::parse(raw).map_err(|e| bad_input(e.to_string()))
}

pub struct Query;

#[Object]
impl Query {
    /// `ok` while the gateway serves.
    async fn health(&self) -> &'static str {
        "ok"
    }

    /// The gateway's version.
    async fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    /// One execution's status, read from NoETL.
    async fn execution(&self, ctx: &Context<'_>, id: String) -> Result<Execution> {
        let status = gateway(ctx)?
            .executions
            .status(&execution_id(&id)?)
            .await
            .map_err(from_execution)?;
        Ok(status.into())
    }

    /// Executions, as NoETL lists them.
    async fn executions(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20, validator(minimum = 1, maximum = 200))] limit: u32,
        #[graphql(default = 0)] offset: u32,
    ) -> Result<Vec<Execution>> {
        let list = gateway(ctx)?
            .executions
            .list(limit, offset)
            .await
            .map_err(from_execution)?;
        Ok(list.into_iter().map(Into::into).collect())
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Start a playbook. With `clientId`, its results reach that client's event stream.
    async fn execute_playbook(
        &self,
        ctx: &Context<'_>,
        name: String,
        variables: Option<Json<Value>>,
        client_id: Option<String>,
        idempotency_key: Option<String>,
    ) -> Result<ExecuteResult> {
        let gw = gateway(ctx)?;
        let who = caller(ctx)?;
        let playbook = PlaybookPath::parse(&name).map_err(|e| bad_input(e.to_string()))?;
        if gw.enforce_playbook_access {
            let query = AccessQuery {
                session_token: who.token.clone(),
                playbook_path: playbook.clone(),
                permission: Permission::Execute,
            };
            let decision = gw.auth.check_access(query).await.map_err(from_auth)?;
            if !decision.allowed {
                return Err(forbidden(format!(
                    "not allowed to execute {playbook}: {}",
                    decision.message
                )));
            }
        }
        let owner = who.token.key();
        let key =
            idempotency_key.or_else(|| ctx.data_opt::<IdempotencyHeader>().map(|h| h.0.clone()));
        let idempotency_key = key
            .map(|k| IdempotencyKey::parse(&k, &owner).map_err(|e| bad_input(e.to_string())))
            .transpose()?;
        let command = ExecuteCommand {
            playbook,
            variables: as_object(variables)?,
            client_id: client(client_id)?,
            idempotency_key,
            owner,
        };
        Ok(gw
            .executions
            .execute(command)
            .await
            .map_err(from_execution)?
            .into())
    }

    /// Start a new execution from an earlier one (on NoETL servers that support it).
    async fn rerun_execution(
        &self,
        ctx: &Context<'_>,
        execution_id: String,
        variables: Option<Json<Value>>,
        client_id: Option<String>,
    ) -> Result<ExecuteResult> {
        let gw = gateway(ctx)?;
        let owner = caller(ctx)?.token.key();
        let id = self::execution_id(&execution_id)?;
        let started = gw
            .executions
            .rerun(&id, as_object(variables)?, client(client_id)?, &owner)
            .await
            .map_err(from_execution)?;
        Ok(started.into())
    }

    /// Cancel an execution (and its children).
    async fn cancel_execution(
        &self,
        ctx: &Context<'_>,
        id: String,
        reason: Option<String>,
    ) -> Result<bool> {
        let reason = reason.unwrap_or_else(|| "cancelled through the gateway".to_owned());
        gateway(ctx)?
            .executions
            .cancel(&execution_id(&id)?, &reason)
            .await
            .map_err(from_execution)?;
        Ok(true)
    }
}

pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// Events after `after` (a cursor from an earlier event; every retained one when absent),
    /// then live: all of a client's (`clientId`, which may be subscribed before anything is
    /// started with it), or one request's (`requestId` or `executionId`).
    async fn execution_events(
        &self,
        ctx: &Context<'_>,
        client_id: Option<String>,
        request_id: Option<String>,
        execution_id: Option<String>,
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<ExecutionEvent>> + use<>> {
        let gw = gateway(ctx)?.clone();
        let owner = caller(ctx)?.token.key();
        let place = ctx
            .data_opt::<SocketSubscriptions>()
            .map(SocketSubscriptions::take)
            .transpose()?;
        let session_place = gw
            .streams
            .enter_subscription(&owner)
            .map_err(|full| too_many(full.to_string()))?;
        let request_id = request_id
            .map(|r| RequestId::parse(&r).map_err(|e| bad_input(e.to_string())))
            .transpose()?;
        let execution_id = execution_id.map(|e| self::execution_id(&e)).transpose()?;
        let after = after
            .map(|a| {
                a.parse::<u64>()
                    .map(EventCursor::new)
                    .map_err(|_| bad_input("after must be a cursor"))
            })
            .transpose()?;
        let (client, events) = match (client(client_id)?, &request_id, &execution_id) {
            (Some(client), None, None) => {
                let events = gw
                    .executions
                    .follow_client(&client, &owner, after)
                    .await
                    .map_err(from_execution)?;
                (client, events)
            }
            (None, _, _) => {
                let pending = gw
                    .executions
                    .owned_request(request_id.as_ref(), execution_id.as_ref(), &owner)
                    .await
                    .map_err(from_execution)?;
                let events = gw
                    .executions
                    .follow_request(&pending, after)
                    .await
                    .map_err(from_execution)?;
                (pending.client_id, events)
            }
            (Some(_), _, _) => {
                return Err(bad_input(
                    "give clientId, or requestId/executionId, not both",
                ));
            }
        };
        let missed = match after {
            Some(at) if gw.executions.missed_after(&client, after).await == Some(true) => {
                Some(Ok(ExecutionEvent::missed(at)))
            }
            _ => None,
        };
        let presence = gw.callbacks.presence().enter(&client);
        let logged = events
            .filter(|item| {
                let for_client = item.as_ref().map_or(true, |l| l.event.is_for_client());
                std::future::ready(for_client)
            })
            .map(move |item| {
                let _present_while_subscribed = (&presence, &place, &session_place);
                item.map(ExecutionEvent::from)
                    .map_err(|e| from_execution(e.into()))
            });
        Ok(futures_util::stream::iter(missed).chain(logged))
    }
}

/// The schema without per-request data: enough for the SDL; `build` adds the gateway.
pub fn schema_builder() -> async_graphql::SchemaBuilder<Query, Mutation, SubscriptionRoot> {
    Schema::build(Query, Mutation, SubscriptionRoot)
}

/// The executable schema with the gateway and the configured limits.
pub fn build(gw: Arc<Gateway>) -> GatewaySchema {
    let limits = gw.graphql;
    let mut builder = schema_builder()
        .data(gw)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .extension(super::limits::AliasLimit(limits.max_aliases));
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    builder.finish()
}

/// The SDL committed as `openapi/schema.graphql`.
pub fn sdl() -> String {
    schema_builder().finish().sdl()
}
