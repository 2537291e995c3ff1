//! `execute_command` in the client's terminal (`terminal/*`), when it
//! offers one: the user watches the command where they work, and it is
//! killed there on a timeout or a cancel.
//!
//! The tool hands over the program and arguments the launcher would run
//! (`codelab-agent __launch SPEC`, sandboxed as the call is), so what the
//! approval and the sandbox allowed is what runs. Here: `terminal/create`,
//! the tool call shown with the terminal (`{type: "terminal"}` content),
//! `terminal/wait_for_exit` until it exits or the call is stopped
//! (`terminal/kill`, then its exit), `terminal/output`, and
//! `terminal/release` whatever happened.

use std::rc::Rc;
use std::time::Duration;

use agent_client_protocol::{self as acp, Client as _};
use tokio_util::sync::CancellationToken;

use super::connection::Connection;
use crate::domain::SessionId;
use crate::tools::{TerminalCommand, TerminalRun};

/// Runs one command in the client's terminal; see the module.
pub(super) async fn run(
    conn: Rc<Connection>,
    session: SessionId,
    acp_session: acp::SessionId,
    command: TerminalCommand,
    stop: CancellationToken,
) -> Result<TerminalRun, acp::Error> {
    let peer = conn.peer().ok_or_else(|| {
        acp::Error::new(
            acp::ErrorCode::InternalError.into(),
            "the ACP client is gone",
        )
    })?;
    let timeout = conn.request_timeout;
    let create =
        acp::CreateTerminalRequest::new(acp_session.clone(), command.program.display().to_string())
            .args(command.args)
            .cwd(command.cwd)
            .output_byte_limit(command.output_limit);
    let created = tokio::select! {
        r = tokio::time::timeout(timeout, peer.create_terminal(create)) => match r {
            Ok(r) => r?,
            Err(_) => return Err(late("terminal/create", timeout)),
        },
        () = stop.cancelled() => {
            return Err(acp::Error::new(
                acp::ErrorCode::InternalError.into(),
                "stopped before the terminal was created",
            ));
        }
    };
    let id = created.terminal_id;
    tracing::debug!(%session, terminal = %id, call = %command.call_id, "command in the client's terminal");
    conn.show_terminal(session, &acp_session, &command.call_id, id.clone())
        .await;
    let exit = acp::WaitForTerminalExitRequest::new(acp_session.clone(), id.clone());
    let exited = tokio::select! {
        r = peer.wait_for_terminal_exit(exit) => Some(r),
        () = stop.cancelled() => None,
    };
    if exited.is_none() {
        let kill = acp::KillTerminalRequest::new(acp_session.clone(), id.clone());
        if let Err(e) = peer.kill_terminal(kill).await {
            tracing::warn!(terminal = %id, "the client did not kill the terminal's command: {e}");
        }
        // Its exit status, once the kill took.
        let exit = acp::WaitForTerminalExitRequest::new(acp_session.clone(), id.clone());
        if tokio::time::timeout(timeout, peer.wait_for_terminal_exit(exit))
            .await
            .is_err()
        {
            tracing::warn!(terminal = %id, "the terminal's command did not exit after terminal/kill");
        }
    } else if let Some(Err(e)) = &exited {
        tracing::debug!(terminal = %id, "terminal/wait_for_exit failed: {e}");
    }
    let output = tokio::time::timeout(
        timeout,
        peer.terminal_output(acp::TerminalOutputRequest::new(
            acp_session.clone(),
            id.clone(),
        )),
    )
    .await;
    let release = acp::ReleaseTerminalRequest::new(acp_session, id.clone());
    if let Err(e) = peer.release_terminal(release).await {
        tracing::debug!(terminal = %id, "terminal/release failed: {e}");
    }
    let output = output.map_err(|_| late("terminal/output", timeout))??;
    let waited = match exited {
        Some(Ok(r)) => Some(r.exit_status),
        _ => None,
    };
    let status = output.exit_status.or(waited);
    Ok(TerminalRun {
        output: output.output,
        truncated: output.truncated,
        exit_code: status.as_ref().and_then(|s| s.exit_code),
        signal: status.and_then(|s| s.signal),
    })
}

fn late(method: &str, timeout: Duration) -> acp::Error {
    acp::Error::new(
        acp::ErrorCode::InternalError.into(),
        format!(
            "the client did not answer {method} within {}s",
            timeout.as_secs()
        ),
    )
}
