//! The typed API of the test client: requests and notifications as the
//! crate's own wire types.
//!
//! A request is named by its [`Method`] type, so its parameters and result
//! types cannot disagree with the method; a notification by its params type
//! ([`Notification::NAME`]). Everything read is checked twice: it must parse
//! as the type, and the type must serialize back to exactly what was on the
//! wire, so a field the type does not know (or spells differently) fails the
//! test instead of being dropped. The strictness of [`Client`] is unchanged:
//! whatever a test does not take stays queued and fails [`Client::finish`].

#![allow(dead_code, clippy::unwrap_used)]

use std::marker::PhantomData;

use codelab_agent::protocol::methods::Wire;
use codelab_agent::protocol::types::ErrorData;
use codelab_agent::protocol::{ErrorCode, Method, Notification, RpcError};
use serde_json::{Value, json};

use super::Client;

/// A request sent with [`Client::send_typed`]; [`Client::response_typed`]
/// waits for its answer.
#[must_use = "wait for the response with Client::response_typed"]
pub struct Pending<M> {
    id: i64,
    method: PhantomData<fn() -> M>,
}

impl<M> Pending<M> {
    /// The JSON-RPC id the request was sent with.
    pub fn id(&self) -> i64 {
        self.id
    }
}

/// Parses `value` as `T` and checks that `T` serializes back to exactly
/// `value`; fails the test otherwise. `what` names the value in the message.
pub fn decode<T: Wire>(what: &str, value: &Value) -> T {
    let type_name = std::any::type_name::<T>();
    let typed: T = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{what} does not parse as {type_name}: {e}\n{value:#}"));
    let back = serde_json::to_value(&typed)
        .unwrap_or_else(|e| panic!("{type_name} does not serialize: {e}"));
    assert!(
        back == *value,
        "{what} does not round-trip through {type_name}: the wire carried something the type \
         does not say\non the wire: {value:#}\nas the type: {back:#}"
    );
    typed
}

/// A JSON-RPC `error` object as the crate's [`RpcError`]: its code must be one
/// of [`ErrorCode::ALL`] and its `data` must parse as [`ErrorData`] (extra
/// data fields, such as `retryAfterMs`, are allowed).
pub fn rpc_error(error: &Value) -> RpcError {
    let number = error["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("an error without a numeric code: {error}"));
    let code = ErrorCode::ALL
        .into_iter()
        .find(|c| c.code() == number)
        .unwrap_or_else(|| panic!("an error code the protocol does not declare: {error}"));
    let message = error["message"]
        .as_str()
        .unwrap_or_else(|| panic!("an error without a message: {error}"))
        .to_owned();
    let data: ErrorData = serde_json::from_value(error["data"].clone())
        .unwrap_or_else(|e| panic!("error data that is not ErrorData ({e}): {error}"));
    RpcError {
        code,
        message,
        data: Box::new(data),
    }
}

fn params_json<P: Wire>(params: &P) -> Value {
    serde_json::to_value(params).expect("parameters serialize")
}

fn method_of(msg: &Value) -> Option<&str> {
    if msg.get("id").is_some() {
        return None; // a response or a server request, not a notification
    }
    msg.get("method").and_then(Value::as_str)
}

impl Client {
    /// Sends request `M` without waiting for its answer.
    pub fn send_typed<M: Method>(&mut self, params: M::Params) -> Pending<M> {
        let id = self.send_request(M::NAME, Some(params_json(&params)));
        Pending {
            id,
            method: PhantomData,
        }
    }

    /// Waits for the answer to a request sent with [`Client::send_typed`]:
    /// its result as `M::Result`, or its error.
    pub async fn response_typed<M: Method>(
        &mut self,
        pending: Pending<M>,
    ) -> Result<M::Result, RpcError> {
        match self.response(json!(pending.id)).await {
            Ok(result) => Ok(decode(&format!("the result of {}", M::NAME), &result)),
            Err(error) => Err(rpc_error(&error)),
        }
    }

    /// Sends request `M` and returns its result or its error.
    pub async fn request_typed<M: Method>(
        &mut self,
        params: M::Params,
    ) -> Result<M::Result, RpcError> {
        let pending = self.send_typed::<M>(params);
        self.response_typed(pending).await
    }

    /// Sends request `M` and returns its result, failing the test with the
    /// server's error otherwise.
    pub async fn call_typed<M: Method>(&mut self, params: M::Params) -> M::Result {
        match self.request_typed::<M>(params).await {
            Ok(result) => result,
            Err(e) => panic!(
                "{} failed: {e}\n{:?}\nserver log:\n{}",
                M::NAME,
                e.data,
                self.logs()
            ),
        }
    }

    /// Sends request `M` and returns its error, failing the test if it
    /// succeeded.
    pub async fn error_typed<M: Method>(&mut self, params: M::Params) -> RpcError {
        match self.request_typed::<M>(params).await {
            Ok(result) => panic!(
                "{} succeeded with {}, an error was expected",
                M::NAME,
                serde_json::to_string(&result).unwrap_or_default()
            ),
            Err(e) => e,
        }
    }

    /// Waits for the next notification `N` (earlier ones first, whatever
    /// else arrived in between) and returns its params.
    pub async fn expect<N: Notification>(&mut self) -> N {
        self.expect_where::<N>(|_| true).await
    }

    /// Takes notifications in arrival order, dropping every one that is not
    /// `N`, until an `N` comes; returns it. For a client that deliberately
    /// ignores what came before (an editor that goes away, a server about to
    /// be killed).
    pub async fn discard_until<N: Notification>(&mut self) -> N {
        loop {
            let msg = self.next_notification().await;
            if method_of(&msg) == Some(N::NAME) {
                return decode(&format!("a {} notification", N::NAME), &msg["params"]);
            }
        }
    }

    /// Waits for the first notification `N` whose params satisfy `pred`.
    /// Notifications `N` that do not satisfy it stay queued, to be taken
    /// later like any other message.
    pub async fn expect_where<N: Notification>(&mut self, mut pred: impl FnMut(&N) -> bool) -> N {
        let what = format!("a {} notification", N::NAME);
        let position = self
            .queued
            .iter()
            .position(|m| method_of(m) == Some(N::NAME) && pred(&decode::<N>(&what, &m["params"])));
        if let Some(pos) = position {
            let msg = self.queued.remove(pos).unwrap();
            return decode(&what, &msg["params"]);
        }
        loop {
            let msg = self.next_message().await;
            if method_of(&msg) == Some(N::NAME) {
                let params: N = decode(&what, &msg["params"]);
                if pred(&params) {
                    return params;
                }
            }
            self.queued.push_back(msg);
        }
    }
}
