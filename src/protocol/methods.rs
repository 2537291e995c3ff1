//! The method table: every request and notification of the protocol, each
//! declared once.
//!
//! A request is a unit type implementing [`Method`] (in [`super::requests`]):
//! its name, parameter and result types, errors, summary and example. A
//! request the server sends to the client is a unit type implementing
//! [`ClientMethod`] (also in [`super::requests`]). A notification is declared
//! by its parameter type implementing [`Notification`] (in
//! [`super::notifications`]), so sending a
//! [`TokenParams`](super::types::TokenParams) is sending `codelab/token`.
//!
//! `for_each_request!`, `for_each_client_request!` and
//! `for_each_notification!` list the declarations. The server's dispatcher is
//! generated from the first list, the generated reference ([`all`]) from all
//! three, and the traits are sealed to the lists: a method cannot be served,
//! nor a request or notification sent, without being documented.

use std::any::TypeId;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use super::errors::{ErrorCode, RpcError, parse_params};
use super::types::*;

/// What every wire type is: serialized by serde, described by schemars and ts-rs.
pub trait Wire: Serialize + DeserializeOwned + JsonSchema + TS + Send + Sync + 'static {}

impl<T> Wire for T where T: Serialize + DeserializeOwned + JsonSchema + TS + Send + Sync + 'static {}

/// A request the client sends and the server answers: the one declaration of
/// a `codelab/*` method.
///
/// Implemented only by the types listed in `for_each_request!`.
pub trait Method: sealed::Request + 'static {
    /// The method name on the wire.
    const NAME: &'static str;
    /// What it does, in Markdown. The first sentence is the overview's.
    const SUMMARY: &'static str;
    /// The application errors it may return, beyond the generic ones every
    /// request may get (`invalidParams`, `internalError`, ...).
    const ERRORS: &'static [ErrorCode];
    /// Its parameters ([`NoParams`] when it takes none).
    type Params: Wire;
    /// Its result.
    type Result: Wire;
    /// Example parameters: every optional field set where that helps.
    fn example_params() -> Self::Params;
    /// An example result for [`Method::example_params`].
    fn example_result() -> Self::Result;
}

/// A notification the server sends: implemented by its parameter type, so
/// the type of what is sent names the method.
///
/// Implemented only by the types listed in `for_each_notification!`.
pub trait Notification: Wire + sealed::Notification {
    /// The method name on the wire.
    const NAME: &'static str;
    /// When it is sent and what it means, in Markdown.
    const SUMMARY: &'static str;
    /// An example, every optional field set where that helps.
    fn example() -> Self;
}

/// A request the server sends and the client answers: the one declaration
/// of a server-to-client `codelab/*` method. The server sends it only to a
/// client that offered it in `initialize`.
///
/// Implemented only by the types listed in `for_each_client_request!`.
pub trait ClientMethod: sealed::ClientRequest + 'static {
    /// The method name on the wire.
    const NAME: &'static str;
    /// What it asks and how the client answers, in Markdown. The first
    /// sentence is the overview's.
    const SUMMARY: &'static str;
    /// Its parameters.
    type Params: Wire;
    /// The client's answer.
    type Result: Wire;
    /// Example parameters.
    fn example_params() -> Self::Params;
    /// An example answer to [`ClientMethod::example_params`].
    fn example_result() -> Self::Result;
}

/// Parameters of a method that takes none: absent, `null`, `[]` or `{}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

mod sealed {
    /// Sealing [`super::Method`] to the list.
    pub trait Request {}
    /// Sealing [`super::Notification`] to the list.
    pub trait Notification {}
    /// Sealing [`super::ClientMethod`] to the list.
    pub trait ClientRequest {}
}

/// Calls `$callback! { Type, Type, ... }` with every request declaration, in
/// documentation order. This is the one list of the protocol's requests: the
/// server's dispatcher and the generated reference both expand it.
macro_rules! for_each_request {
    ($callback:ident) => {
        $callback! {
            $crate::protocol::requests::CreateSession,
            $crate::protocol::requests::ListSessions,
            $crate::protocol::requests::GetSession,
            $crate::protocol::requests::DeleteSession,
            $crate::protocol::requests::GetHistory,
            $crate::protocol::requests::SendMessage,
            $crate::protocol::requests::CancelTurn,
            $crate::protocol::requests::CompactSession,
            $crate::protocol::requests::ListCheckpoints,
            $crate::protocol::requests::RestoreCheckpoint,
            $crate::protocol::requests::AttachSession,
            $crate::protocol::requests::DetachSession,
            $crate::protocol::requests::AnswerQuestion,
            $crate::protocol::requests::DecideApproval,
            $crate::protocol::requests::ListPendingApprovals,
            $crate::protocol::requests::GetPolicy,
            $crate::protocol::requests::ListProcesses,
            $crate::protocol::requests::ListAgents,
            $crate::protocol::requests::GetCurrentAgent,
            $crate::protocol::requests::SwitchAgent,
            $crate::protocol::requests::ListTools,
            $crate::protocol::requests::ListMcpServers,
            $crate::protocol::requests::GetDocument,
            $crate::protocol::requests::GetMetrics,
            $crate::protocol::requests::GetSessionMetrics,
            $crate::protocol::requests::ListSessionMetrics,
            $crate::protocol::requests::GetAuditLog,
            $crate::protocol::requests::SubscribeEvents,
            $crate::protocol::requests::UnsubscribeEvents,
            $crate::protocol::requests::ListFiles,
            $crate::protocol::requests::ReadFile,
            $crate::protocol::requests::WriteFile,
            $crate::protocol::requests::CreateFile,
            $crate::protocol::requests::RenameFile,
            $crate::protocol::requests::DeleteFile,
        }
    };
}
pub(crate) use for_each_request;

/// Calls `$callback! { Type, Type, ... }` with every request the server
/// sends to the client, in documentation order: the one list of them.
macro_rules! for_each_client_request {
    ($callback:ident) => {
        $callback! {
            $crate::protocol::requests::SaveDocuments,
        }
    };
}

/// Calls `$callback! { Type, Type, ... }` with every notification's parameter
/// type, in documentation order: the one list of the protocol's notifications.
macro_rules! for_each_notification {
    ($callback:ident) => {
        $callback! {
            $crate::protocol::types::MessageAddedParams,
            $crate::protocol::types::TokenParams,
            $crate::protocol::types::ReasoningParams,
            $crate::protocol::types::ToolCallParams,
            $crate::protocol::types::CommandOutputParams,
            $crate::protocol::types::QuestionParams,
            $crate::protocol::types::ApprovalRequiredParams,
            $crate::protocol::types::ApprovalResolvedParams,
            $crate::protocol::types::AgentSwitchedParams,
            $crate::protocol::types::ModelChosenParams,
            $crate::protocol::types::TurnCompletedParams,
            $crate::protocol::types::ContextUsageParams,
            $crate::protocol::types::ContextCompactedParams,
            $crate::protocol::types::TurnDiffParams,
            $crate::protocol::types::EventParams,
        }
    };
}

macro_rules! seal {
    ($trait:ident: $($t:ty),* $(,)?) => { $(impl sealed::$trait for $t {})* };
}
macro_rules! seal_requests {
    ($($t:ty),* $(,)?) => { seal!(Request: $($t),*); };
}
macro_rules! seal_notifications {
    ($($t:ty),* $(,)?) => { seal!(Notification: $($t),*); };
}
macro_rules! seal_client_requests {
    ($($t:ty),* $(,)?) => { seal!(ClientRequest: $($t),*); };
}
for_each_request!(seal_requests);
for_each_client_request!(seal_client_requests);
for_each_notification!(seal_notifications);

/// Whether a message expects a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A request: the receiver answers with a result or an error.
    Request,
    /// A notification: no answer.
    Notification,
}

/// Who sends the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Sent by the editor or backend to the server.
    ClientToServer,
    /// Sent by the server to the client.
    ServerToClient,
}

/// A Rust wire type, seen by the generators.
#[derive(Clone, Copy)]
pub struct TypeRef {
    /// The type's name in the schema and in TypeScript.
    pub name: fn() -> String,
    /// Adds the type to a schema generator and returns a reference to it.
    pub schema: fn(&mut SchemaGenerator) -> Schema,
}

impl std::fmt::Debug for TypeRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&(self.name)())
    }
}

/// A [`TypeRef`] for `T`.
pub fn type_ref<T: JsonSchema + TS>() -> TypeRef {
    TypeRef {
        name: || T::name(&ts_rs::Config::new()),
        schema: |generator| generator.subschema_for::<T>(),
    }
}

/// Why a JSON example does not go through its Rust type.
#[derive(Debug, thiserror::Error)]
pub enum RoundTripError {
    /// The server would refuse these parameters.
    #[error("refused as parameters: {0}")]
    Params(#[from] RpcError),
    /// The JSON does not parse as the type.
    #[error("does not parse as {type_name}: {source}")]
    Parse {
        /// The Rust type.
        type_name: &'static str,
        /// serde's reason.
        #[source]
        source: serde_json::Error,
    },
    /// The parsed value does not serialize.
    #[error("{type_name} does not serialize: {source}")]
    Serialize {
        /// The Rust type.
        type_name: &'static str,
        /// serde's reason.
        #[source]
        source: serde_json::Error,
    },
}

/// Parses JSON into `T` and serializes it back.
pub type RoundTrip = fn(&Value) -> Result<Value, RoundTripError>;

/// One method or notification, as the generators and tests see it.
#[derive(Debug, Clone)]
pub struct MethodDoc {
    /// The method name on the wire.
    pub name: &'static str,
    /// Request or notification.
    pub kind: Kind,
    /// Who sends it.
    pub direction: Direction,
    /// What it does, in Markdown.
    pub summary: &'static str,
    /// The parameter type; `None` when it takes none.
    pub params: Option<TypeRef>,
    /// The result type, for requests.
    pub result: Option<TypeRef>,
    /// The application errors it may return (beyond the generic JSON-RPC ones).
    pub errors: &'static [ErrorCode],
    /// Example parameters.
    pub example_params: Value,
    /// Example result, for requests.
    pub example_result: Option<Value>,
    /// Reads JSON parameters as their receiver does (a request's with
    /// [`parse_params`], like the server) and serializes them back.
    pub round_trip_params: RoundTrip,
    /// Reads a JSON result into the result type and serializes it back.
    pub round_trip_result: Option<RoundTrip>,
}

fn to_value(value: impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn serialize<T: Wire>(value: &T) -> Result<Value, RoundTripError> {
    serde_json::to_value(value).map_err(|source| RoundTripError::Serialize {
        type_name: std::any::type_name::<T>(),
        source,
    })
}

fn round_trip<T: Wire>(json: &Value) -> Result<Value, RoundTripError> {
    let parsed: T =
        serde_json::from_value(json.clone()).map_err(|source| RoundTripError::Parse {
            type_name: std::any::type_name::<T>(),
            source,
        })?;
    serialize(&parsed)
}

fn round_trip_request_params<T: Wire>(json: &Value) -> Result<Value, RoundTripError> {
    let parsed: T = parse_params(Some(json.clone()))?;
    serialize(&parsed)
}

/// The documentation entry of a request.
pub fn request<M: Method>() -> MethodDoc {
    let takes_none = TypeId::of::<M::Params>() == TypeId::of::<NoParams>();
    MethodDoc {
        name: M::NAME,
        kind: Kind::Request,
        direction: Direction::ClientToServer,
        summary: M::SUMMARY,
        params: (!takes_none).then(type_ref::<M::Params>),
        result: Some(type_ref::<M::Result>()),
        errors: M::ERRORS,
        example_params: to_value(M::example_params()),
        example_result: Some(to_value(M::example_result())),
        round_trip_params: round_trip_request_params::<M::Params>,
        round_trip_result: Some(round_trip::<M::Result>),
    }
}

/// The documentation entry of a request the server sends to the client.
pub fn client_request<M: ClientMethod>() -> MethodDoc {
    MethodDoc {
        name: M::NAME,
        kind: Kind::Request,
        direction: Direction::ServerToClient,
        summary: M::SUMMARY,
        params: Some(type_ref::<M::Params>()),
        result: Some(type_ref::<M::Result>()),
        errors: &[],
        example_params: to_value(M::example_params()),
        example_result: Some(to_value(M::example_result())),
        round_trip_params: round_trip::<M::Params>,
        round_trip_result: Some(round_trip::<M::Result>),
    }
}

/// The documentation entry of a notification.
pub fn notification<N: Notification>() -> MethodDoc {
    MethodDoc {
        name: N::NAME,
        kind: Kind::Notification,
        direction: Direction::ServerToClient,
        summary: N::SUMMARY,
        params: Some(type_ref::<N>()),
        result: None,
        errors: &[],
        example_params: to_value(N::example()),
        example_result: None,
        round_trip_params: round_trip::<N>,
        round_trip_result: None,
    }
}

macro_rules! request_docs {
    ($($t:ty),* $(,)?) => { vec![$(request::<$t>()),*] };
}
macro_rules! notification_docs {
    ($($t:ty),* $(,)?) => { vec![$(notification::<$t>()),*] };
}
macro_rules! client_request_docs {
    ($($t:ty),* $(,)?) => { vec![$(client_request::<$t>()),*] };
}

/// Every request, in documentation order.
pub fn requests() -> Vec<MethodDoc> {
    for_each_request!(request_docs)
}

/// Every request the server sends to the client, in documentation order.
pub fn client_requests() -> Vec<MethodDoc> {
    for_each_client_request!(client_request_docs)
}

/// Every notification, in documentation order.
pub fn notifications() -> Vec<MethodDoc> {
    for_each_notification!(notification_docs)
}

/// Every request, then every request to the client, then every
/// notification, in documentation order.
pub fn all() -> Vec<MethodDoc> {
    let mut all = requests();
    all.extend(client_requests());
    all.extend(notifications());
    all
}

/// A wire type and the function that renders its TypeScript declaration.
pub type TypeEntry = (TypeRef, fn(&ts_rs::Config) -> String);

/// Every wire type, in the order the TypeScript file declares them.
pub fn all_types() -> Vec<TypeEntry> {
    fn entry<T: JsonSchema + TS>() -> TypeEntry {
        (type_ref::<T>(), |cfg| T::decl(cfg))
    }
    use crate::domain::events as ev;
    vec![
        entry::<crate::domain::SessionId>(),
        entry::<crate::domain::TurnId>(),
        entry::<crate::domain::MessageId>(),
        entry::<crate::domain::ApprovalId>(),
        entry::<crate::domain::QuestionId>(),
        entry::<crate::domain::EventId>(),
        entry::<Session>(),
        entry::<ChosenModel>(),
        entry::<Role>(),
        entry::<ToolCall>(),
        entry::<Message>(),
        entry::<AgentInfo>(),
        entry::<CreateSessionParams>(),
        entry::<ListSessionsParams>(),
        entry::<ListSessionsResult>(),
        entry::<SessionParams>(),
        entry::<DeleteSessionResult>(),
        entry::<GetHistoryParams>(),
        entry::<GetHistoryResult>(),
        entry::<ListAgentsResult>(),
        entry::<CurrentAgentResult>(),
        entry::<ToolKind>(),
        entry::<ToolInfo>(),
        entry::<ListToolsResult>(),
        entry::<McpServerState>(),
        entry::<McpServerInfo>(),
        entry::<ListMcpServersParams>(),
        entry::<ListMcpServersResult>(),
        entry::<MessageContext>(),
        entry::<SendMessageParams>(),
        entry::<SendMessageResult>(),
        entry::<CancelTurnResult>(),
        entry::<Compaction>(),
        entry::<CompactSessionResult>(),
        entry::<FileStat>(),
        entry::<TurnCheckpoint>(),
        entry::<ListCheckpointsResult>(),
        entry::<RestoreCheckpointParams>(),
        entry::<RestoreCheckpointResult>(),
        entry::<TurnDiffParams>(),
        entry::<ContextUsageParams>(),
        entry::<ContextCompactedParams>(),
        entry::<AttachSessionParams>(),
        entry::<AttachSessionResult>(),
        entry::<SwitchAgentParams>(),
        entry::<AnswerQuestionParams>(),
        entry::<Ack>(),
        entry::<ListAgentsParams>(),
        entry::<TokenUsage>(),
        entry::<TokenParams>(),
        entry::<ReasoningParams>(),
        entry::<ToolCallStatus>(),
        entry::<ToolCallParams>(),
        entry::<StopReason>(),
        entry::<TurnCompletedParams>(),
        entry::<AgentSwitchedParams>(),
        entry::<ModelChosenParams>(),
        entry::<QuestionParams>(),
        entry::<CommandOutputParams>(),
        entry::<MessageAddedParams>(),
        entry::<Approval>(),
        entry::<ApprovalFile>(),
        entry::<ApprovalRequiredParams>(),
        entry::<Decision>(),
        entry::<ApprovalScope>(),
        entry::<DecideApprovalParams>(),
        entry::<ApprovalResolvedParams>(),
        entry::<ListPendingApprovalsParams>(),
        entry::<ListPendingApprovalsResult>(),
        entry::<GetPolicyParams>(),
        entry::<PolicyRule>(),
        entry::<SandboxInfo>(),
        entry::<GetPolicyResult>(),
        entry::<ListProcessesParams>(),
        entry::<ProcessInfo>(),
        entry::<ListProcessesResult>(),
        entry::<Percentiles>(),
        entry::<SessionMetrics>(),
        entry::<MetricsSnapshot>(),
        entry::<ListSessionMetricsParams>(),
        entry::<ListSessionMetricsResult>(),
        entry::<GetAuditLogParams>(),
        entry::<AuditEntry>(),
        entry::<GetAuditLogResult>(),
        entry::<SubscribeEventsParams>(),
        entry::<SubscribeEventsResult>(),
        entry::<UnsubscribeEventsParams>(),
        entry::<EventParams>(),
        entry::<GetDocumentParams>(),
        entry::<DocumentSnapshot>(),
        entry::<FilePathParams>(),
        entry::<FileKind>(),
        entry::<FileEntry>(),
        entry::<ListFilesResult>(),
        entry::<ReadFileResult>(),
        entry::<WriteFileParams>(),
        entry::<CreateFileParams>(),
        entry::<RenameFileParams>(),
        entry::<DeleteFileParams>(),
        entry::<FileChanged>(),
        entry::<CodelabCapabilities>(),
        entry::<ClientCodelabCapabilities>(),
        entry::<SaveDocumentsParams>(),
        entry::<SaveFailure>(),
        entry::<SaveDocumentsResult>(),
        entry::<InvalidParamsData>(),
        entry::<ErrorData>(),
        // The payloads of `codelab/event` and of audit entries.
        entry::<ev::Category>(),
        entry::<ev::SessionCreated>(),
        entry::<ev::SessionDeleted>(),
        entry::<ev::MessageAdded>(),
        entry::<ev::ContextCompacted>(),
        entry::<ev::AgentSwitched>(),
        entry::<ev::ProcessingStarted>(),
        entry::<ev::TurnEnded>(),
        entry::<ev::ExecutionRequested>(),
        entry::<ev::CallOutcomeKind>(),
        entry::<ev::ToolFinished>(),
        entry::<ev::ApprovalRequested>(),
        entry::<ev::DecisionMade>(),
        entry::<ev::RequestStarted>(),
        entry::<ev::RequestCompleted>(),
        entry::<ev::RequestFailed>(),
        entry::<ev::Cleanup>(),
        entry::<crate::domain::FinishReason>(),
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn names_are_unique_and_in_the_codelab_namespace() {
        let mut seen = HashSet::new();
        for m in all() {
            assert!(m.name.starts_with("codelab/"), "{}", m.name);
            assert!(seen.insert(m.name), "{} is declared twice", m.name);
        }
        assert_eq!(
            requests().len() + client_requests().len() + notifications().len(),
            seen.len()
        );
    }

    #[test]
    fn a_method_without_params_says_so() {
        let metrics = request::<super::super::requests::GetMetrics>();
        assert!(metrics.params.is_none());
        assert_eq!(metrics.example_params, serde_json::json!({}));
        let history = request::<super::super::requests::GetHistory>();
        assert_eq!(
            history.params.map(|t| (t.name)()).as_deref(),
            Some("GetHistoryParams")
        );
    }

    /// A request's params round-trip as the server parses them: unknown
    /// fields are refused, not dropped.
    #[test]
    fn round_trips_refuse_a_renamed_field() {
        let history = request::<super::super::requests::GetHistory>();
        let mut params = history.example_params.clone();
        let limit = params
            .as_object_mut()
            .and_then(|o| o.remove("limit"))
            .expect("the example sets limit");
        params["lmit"] = limit;
        let err = (history.round_trip_params)(&params).expect_err("renamed field");
        assert!(err.to_string().contains("lmit"), "{err}");
    }
}
