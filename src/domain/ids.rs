//! Newtype ids: a session id cannot be passed where an approval id is meant.
//!
//! Each wraps a UUID (v7 for new ids, so they sort by creation time). They
//! serialize as the bare UUID string.

use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, schemars::JsonSchema, ts_rs::TS)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered id (UUID v7).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// The UUID inside.
            pub const fn uuid(self) -> Uuid {
                self.0
            }

            /// The id as a 128-bit key (what the stores index by).
            pub const fn as_u128(self) -> u128 {
                self.0.as_u128()
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self(Uuid::nil())
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&self.0, f)
            }
        }
    )*};
}

uuid_id!(
    /// A chat session.
    SessionId,
    /// One turn of a session: a user message and everything the agents did about it.
    TurnId,
    /// A message of a session's history.
    MessageId,
    /// A tool call waiting for the user's decision.
    ApprovalId,
    /// A question the agent asked the user.
    QuestionId,
    /// A runtime event, and the audit entry that keeps it (time-ordered).
    EventId,
);
