//! The LSP side of a connection: lifecycle, workspace folders and document
//! synchronisation, on `tower-lsp-server`'s [`LanguageServer`] trait.

use std::sync::Arc;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{
    DidChangeConfigurationParams, DidChangeTextDocumentParams, DidChangeWorkspaceFoldersParams,
    DidCloseTextDocumentParams, DidOpenTextDocumentParams, DidSaveTextDocumentParams,
    InitializeParams, InitializeResult, InitializedParams, OneOf, PositionEncodingKind,
    SaveOptions, ServerCapabilities, ServerInfo, TextDocumentSyncCapability, TextDocumentSyncKind,
    TextDocumentSyncOptions, TextDocumentSyncSaveOptions, WorkspaceFoldersServerCapabilities,
    WorkspaceServerCapabilities,
};
use tower_lsp_server::{Client, LanguageServer};

use super::connection::ConnState;
use crate::core::Core;
use crate::documents::{Change, Pos, PositionEncoding};
use crate::protocol::types::{ClientCodelabCapabilities, CodelabCapabilities};
use crate::protocol::{FEATURES, PROTOCOL_VERSION};

/// The LSP backend of one connection.
pub struct Backend {
    core: Arc<Core>,
    conn: Arc<ConnState>,
    _client: Client,
}

impl Backend {
    pub(super) fn new(core: Arc<Core>, conn: Arc<ConnState>, client: Client) -> Self {
        conn.set_client(client.clone());
        Self {
            core,
            conn,
            _client: client,
        }
    }
}

/// Picks utf-8 when the client offers it, else utf-16 (LSP's default).
fn negotiate_encoding(params: &InitializeParams) -> PositionEncoding {
    let offered = params
        .capabilities
        .general
        .as_ref()
        .and_then(|g| g.position_encodings.as_ref());
    match offered {
        Some(list) if list.contains(&PositionEncodingKind::UTF8) => PositionEncoding::Utf8,
        _ => PositionEncoding::Utf16,
    }
}

/// What the client offers under `capabilities.experimental.codelab`;
/// nothing when it is absent or not of the documented shape.
fn client_codelab(params: &InitializeParams) -> ClientCodelabCapabilities {
    let Some(value) = params
        .capabilities
        .experimental
        .as_ref()
        .and_then(|e| e.get("codelab"))
    else {
        return ClientCodelabCapabilities::default();
    };
    serde_json::from_value(value.clone()).unwrap_or_else(|e| {
        tracing::warn!("ignoring invalid capabilities.experimental.codelab: {e}");
        ClientCodelabCapabilities::default()
    })
}

/// The workspace folders from `workspaceFolders`, else `rootUri`.
#[allow(deprecated)] // `root_uri` is deprecated in LSP but still sent by many clients.
fn workspace_folders(params: &InitializeParams) -> Vec<String> {
    match &params.workspace_folders {
        Some(folders) if !folders.is_empty() => {
            folders.iter().map(|f| f.uri.as_str().to_owned()).collect()
        }
        _ => params
            .root_uri
            .iter()
            .map(|u| u.as_str().to_owned())
            .collect(),
    }
}

fn to_pos(p: tower_lsp_server::ls_types::Position) -> Pos {
    Pos {
        line: p.line,
        character: p.character,
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let encoding = negotiate_encoding(&params);
        let folders = workspace_folders(&params);
        let apply_edit = params
            .capabilities
            .workspace
            .as_ref()
            .and_then(|w| w.apply_edit)
            .unwrap_or(false);
        let codelab = CodelabCapabilities {
            protocol_version: PROTOCOL_VERSION.to_owned(),
            server_version: env!("CARGO_PKG_VERSION").to_owned(),
            features: FEATURES.iter().map(|f| (*f).to_owned()).collect(),
            position_encoding: encoding.as_str().to_owned(),
        };
        tracing::info!(
            client = params
                .client_info
                .as_ref()
                .map(|c| c.name.as_str())
                .unwrap_or("unknown"),
            encoding = encoding.as_str(),
            folders = folders.len(),
            apply_edit,
            "initialize"
        );
        if let Some(options) = &params.initialization_options
            && let Err(e) = self.conn.apply_editor_settings(options)
        {
            tracing::warn!("ignoring invalid initializationOptions: {e}");
        }
        let offered = client_codelab(&params);
        let saves = offered.save_documents.unwrap_or(false);
        self.conn
            .set_initialized(encoding, folders, apply_edit, saves);
        self.conn
            .set_wants_context_usage(offered.context_usage.unwrap_or(false));
        self.conn
            .set_wants_turn_diff(offered.turn_diff.unwrap_or(false));
        // A client that applies edits edits the documents it has open.
        if let Some(editor) = self.conn.editor(self.core.config.client_request_timeout) {
            self.core.runtime.editors().register(self.conn.id, editor);
        }
        Ok(InitializeResult {
            capabilities: ServerCapabilities {
                position_encoding: Some(match encoding {
                    PositionEncoding::Utf8 => PositionEncodingKind::UTF8,
                    PositionEncoding::Utf16 => PositionEncodingKind::UTF16,
                }),
                text_document_sync: Some(TextDocumentSyncCapability::Options(
                    TextDocumentSyncOptions {
                        open_close: Some(true),
                        change: Some(TextDocumentSyncKind::INCREMENTAL),
                        will_save: None,
                        will_save_wait_until: None,
                        save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions {
                            include_text: Some(true),
                        })),
                    },
                )),
                workspace: Some(WorkspaceServerCapabilities {
                    workspace_folders: Some(WorkspaceFoldersServerCapabilities {
                        supported: Some(true),
                        change_notifications: Some(OneOf::Left(true)),
                    }),
                    file_operations: None,
                }),
                experimental: Some(serde_json::json!({ "codelab": codelab })),
                ..ServerCapabilities::default()
            },
            server_info: Some(ServerInfo {
                name: "codelab-agent".to_owned(),
                version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            }),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        tracing::debug!("initialized");
    }

    async fn shutdown(&self) -> Result<()> {
        self.conn.set_shutdown();
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let d = params.text_document;
        self.conn
            .documents()
            .open(d.uri.as_str().to_owned(), d.language_id, d.version, &d.text);
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        // No `.await` in here: changes apply in the order they were received.
        let changes: Vec<Change> = params
            .content_changes
            .into_iter()
            .map(|c| Change {
                range: c.range.map(|r| (to_pos(r.start), to_pos(r.end))),
                text: c.text,
            })
            .collect();
        let encoding = self.conn.encoding();
        let uri = params.text_document.uri;
        let known = self.conn.documents().change(
            uri.as_str(),
            params.text_document.version,
            &changes,
            encoding,
        );
        if !known {
            tracing::warn!(
                uri = uri.as_str(),
                "didChange for a document that is not open"
            );
        }
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        self.conn
            .documents()
            .saved(params.text_document.uri.as_str(), params.text.as_deref());
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        self.conn
            .documents()
            .close(params.text_document.uri.as_str());
    }

    async fn did_change_workspace_folders(&self, params: DidChangeWorkspaceFoldersParams) {
        let added = params
            .event
            .added
            .iter()
            .map(|f| f.uri.as_str().to_owned())
            .collect();
        let removed: Vec<String> = params
            .event
            .removed
            .iter()
            .map(|f| f.uri.as_str().to_owned())
            .collect();
        self.conn.change_workspace_folders(added, &removed);
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        if let Err(e) = self.conn.apply_editor_settings(&params.settings) {
            tracing::warn!("ignoring invalid settings from didChangeConfiguration: {e}");
        }
    }
}
