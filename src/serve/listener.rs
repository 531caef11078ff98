//! Where hosts reach `serve`: stdio (one host, until it closes stdin), or a Unix socket (any
//! number of hosts of the same user, each connection its own MCP session over the shared
//! upstreams).
//!
//! Guarantees: the socket is created 0600 in a directory that is 0700 and ours (created so if
//! missing; an existing directory open to others is refused, exit 2); a connection from
//! another uid (SO_PEERCRED) is closed before it reads a byte; a stale socket file of a dead
//! serve is replaced, a live one is not; the socket file is removed on the way out.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rmcp::RoleServer;
use rmcp::transport::Transport;
use tokio::net::UnixListener;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::task::JoinSet;

use super::relay::Relay;
use super::wire::HostWire;
use crate::exit::Failure;

/// One host session over `wire`, until the host goes (or the handshake never completes).
pub async fn run_connection<T>(relay: Relay, wire: T)
where
    T: Transport<RoleServer> + 'static,
{
    match rmcp::serve_server(relay, wire).await {
        Ok(running) => {
            let _ = running.waiting().await;
        }
        Err(error) => tracing::info!("the host left before the MCP handshake finished: {error}"),
    }
}

/// Serve the host on our stdin and stdout until it closes stdin.
pub async fn stdio(relay: Relay, cap: usize) {
    let wire = HostWire::new(tokio::io::stdin(), tokio::io::stdout(), cap);
    run_connection(relay, wire).await;
}

/// A listening socket and the connections it accepted; the file goes with it.
pub struct Socket {
    listener: UnixListener,
    path: PathBuf,
    connections: JoinSet<()>,
}

impl Socket {
    /// Bind `path` privately (see the module docs).
    pub fn bind(path: &Path) -> Result<Socket, Failure> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        private_dir(dir)?;
        remove_stale(path)?;
        let listener = UnixListener::bind(path).map_err(|e| {
            Failure::usage(format!(
                "cannot listen on the socket {}: {e}",
                path.display()
            ))
        })?;
        // The directory is ours alone, so nobody can reach the socket before this.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| {
            Failure::usage(format!(
                "cannot make the socket {} private: {e}",
                path.display()
            ))
        })?;
        Ok(Socket {
            listener,
            path: path.to_path_buf(),
            connections: JoinSet::new(),
        })
    }

    /// Accept hosts until this future is dropped; each runs on its own task.
    pub async fn accept(&mut self, relay: &Relay, cap: usize) {
        self.accept_with(|read, write| {
            run_connection(relay.clone(), HostWire::new(read, write, cap))
        })
        .await;
    }

    /// The same with another server for each connection (`serve --replay`).
    pub async fn accept_with<F, C>(&mut self, mut serve: F)
    where
        F: FnMut(OwnedReadHalf, OwnedWriteHalf) -> C,
        C: Future<Output = ()> + Send + 'static,
    {
        loop {
            let stream = match self.listener.accept().await {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(
                        "accepting a connection on {} failed: {error}",
                        self.path.display()
                    );
                    continue;
                }
            };
            if !same_user(&stream) {
                tracing::warn!(
                    "refused a connection on {} from another user",
                    self.path.display()
                );
                continue;
            }
            let (read, write) = stream.into_split();
            self.connections.spawn(serve(read, write));
            while self.connections.try_join_next().is_some() {}
        }
    }

    /// End every connection and remove the socket file.
    pub async fn close(mut self) {
        self.connections.shutdown().await;
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether the peer of a connection runs as our effective uid.
pub(crate) fn same_user(stream: &tokio::net::UnixStream) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let ours = unsafe { libc::geteuid() };
    stream.peer_cred().is_ok_and(|cred| cred.uid() == ours)
}

/// `dir` exists, is ours and is 0700 (created so when missing).
pub(crate) fn private_dir(dir: &Path) -> Result<(), Failure> {
    if !dir.exists() {
        return crate::private_file::create_dir(dir).map_err(|e| {
            Failure::usage(format!(
                "cannot create the directory {}: {e}",
                dir.display()
            ))
        });
    }
    let metadata = std::fs::metadata(dir)
        .map_err(|e| Failure::usage(format!("cannot read the directory {}: {e}", dir.display())))?;
    // SAFETY: as above.
    let ours = unsafe { libc::geteuid() };
    let mode = metadata.mode() & 0o777;
    if metadata.uid() != ours || mode & 0o077 != 0 {
        return Err(Failure::usage(format!(
            "the socket's directory {} is open to other users (mode {mode:o}); serve needs one only you can enter",
            dir.display()
        ))
        .hint(format!("chmod 700 {}, or put the socket in a private directory such as $XDG_RUNTIME_DIR", dir.display())));
    }
    Ok(())
}

/// Remove a socket file left by a serve that is gone; refuse a live one or another file.
pub(crate) fn remove_stale(path: &Path) -> Result<(), Failure> {
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !metadata.file_type().is_socket() {
        return Err(Failure::usage(format!(
            "{} exists and is not a socket",
            path.display()
        )));
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(Failure::usage(format!(
            "another process is listening on the socket {}",
            path.display()
        ))
        .hint("stop it first, or pick another --socket PATH"));
    }
    std::fs::remove_file(path).map_err(|e| {
        Failure::usage(format!(
            "cannot replace the stale socket {}: {e}",
            path.display()
        ))
    })
}
