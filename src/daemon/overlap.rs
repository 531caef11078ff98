//! The command's side of a kept-alive connection, made to cost one wait on the daemon: the
//! command's own work (reading the cache for the argument check) is done while
//! the daemon answers `initialize`, and `notifications/initialized` goes out with the first
//! request rather than alone.
//!
//! Guarantees: the daemon receives the same messages in the same order as without this
//! (the notification before any request, and before the connection closes); the work done
//! meanwhile only fills this process's memo of the cache file as read, so
//! what the command does and prints is unchanged.

use std::future::Future;
use std::pin::Pin;

use rmcp::RoleClient;
use rmcp::model::{ClientJsonRpcMessage, ClientNotification, ClientRequest, ServerJsonRpcMessage};
use rmcp::transport::Transport;

/// Work for the time the daemon takes to answer `initialize`.
pub type Meanwhile = Box<dyn FnOnce() + Send>;

/// A message's write, not started yet.
type Write<E> = Pin<Box<dyn Future<Output = Result<(), E>> + Send>>;

pub struct Overlapped<T: Transport<RoleClient>> {
    inner: T,
    meanwhile: Option<Meanwhile>,
    /// The write of `notifications/initialized`, held until the next message (or the close).
    held: Option<Write<T::Error>>,
}

impl<T: Transport<RoleClient>> Overlapped<T> {
    pub fn new(inner: T, meanwhile: Meanwhile) -> Overlapped<T> {
        Overlapped {
            inner,
            meanwhile: Some(meanwhile),
            held: None,
        }
    }
}

fn is_initialize(item: &ClientJsonRpcMessage) -> bool {
    matches!(item, ClientJsonRpcMessage::Request(request)
        if matches!(request.request, ClientRequest::InitializeRequest(_)))
}

fn is_initialized(item: &ClientJsonRpcMessage) -> bool {
    matches!(item, ClientJsonRpcMessage::Notification(notification)
        if matches!(notification.notification, ClientNotification::InitializedNotification(_)))
}

impl<T> Transport<RoleClient> for Overlapped<T>
where
    T: Transport<RoleClient> + Send + 'static,
{
    type Error = T::Error;

    fn send(
        &mut self,
        item: ClientJsonRpcMessage,
    ) -> impl Future<Output = Result<(), T::Error>> + Send + 'static {
        if is_initialized(&item) && self.held.is_none() {
            // rmcp waits for this send before it returns the session: written later, just
            // before the next message, so the daemon reads both in one wake-up.
            self.held = Some(Box::pin(self.inner.send(item)));
            return Sends {
                held: None,
                write: None,
                meanwhile: None,
            }
            .run();
        }
        let meanwhile = if is_initialize(&item) {
            self.meanwhile.take()
        } else {
            None
        };
        Sends {
            held: self.held.take(),
            write: Some(self.inner.send(item)),
            meanwhile,
        }
        .run()
    }

    fn receive(&mut self) -> impl Future<Output = Option<ServerJsonRpcMessage>> + Send {
        self.inner.receive()
    }

    async fn close(&mut self) -> Result<(), T::Error> {
        if let Some(held) = self.held.take() {
            held.await?;
        }
        self.inner.close().await
    }
}

/// One `send`: the held notification first, then this message, then the work meanwhile.
struct Sends<F, E> {
    held: Option<Write<E>>,
    write: Option<F>,
    meanwhile: Option<Meanwhile>,
}

impl<F, E> Sends<F, E>
where
    F: Future<Output = Result<(), E>> + Send + 'static,
{
    async fn run(self) -> Result<(), E> {
        if let Some(held) = self.held {
            held.await?;
        }
        if let Some(write) = self.write {
            write.await?;
        }
        // The request is out: the daemon works on it while this thread does its own.
        if let Some(work) = self.meanwhile {
            work();
        }
        Ok(())
    }
}
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Records what is written, and when the work meanwhile ran, in order.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<String>>>);

    impl Transport<RoleClient> for Recorder {
        type Error = std::io::Error;

        fn send(
            &mut self,
            item: ClientJsonRpcMessage,
        ) -> impl Future<Output = Result<(), std::io::Error>> + Send + 'static {
            let log = self.0.clone();
            async move {
                let value = serde_json::to_value(&item)?;
                let method = value["method"].as_str().unwrap_or("?").to_string();
                log.lock().unwrap().push(method);
                Ok(())
            }
        }

        async fn receive(&mut self) -> Option<ServerJsonRpcMessage> {
            None
        }

        async fn close(&mut self) -> Result<(), std::io::Error> {
            self.0.lock().unwrap().push("close".into());
            Ok(())
        }
    }

    fn message(value: serde_json::Value) -> ClientJsonRpcMessage {
        serde_json::from_value(value).unwrap()
    }

    fn initialize() -> ClientJsonRpcMessage {
        message(
            serde_json::json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"}}}),
        )
    }

    fn initialized() -> ClientJsonRpcMessage {
        message(serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
    }

    fn call() -> ClientJsonRpcMessage {
        message(
            serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "get-sum", "arguments": {"a": 2, "b": 3}}}),
        )
    }

    fn overlapped(recorder: &Recorder) -> Overlapped<Recorder> {
        let log = recorder.0.clone();
        Overlapped::new(
            recorder.clone(),
            Box::new(move || log.lock().unwrap().push("meanwhile".into())),
        )
    }

    #[tokio::test]
    async fn the_work_runs_after_initialize_and_initialized_goes_just_before_the_request() {
        let recorder = Recorder::default();
        let mut wire = overlapped(&recorder);
        wire.send(initialize()).await.unwrap();
        wire.send(initialized()).await.unwrap();
        assert_eq!(*recorder.0.lock().unwrap(), ["initialize", "meanwhile"]);
        wire.send(call()).await.unwrap();
        wire.close().await.unwrap();
        assert_eq!(
            *recorder.0.lock().unwrap(),
            [
                "initialize",
                "meanwhile",
                "notifications/initialized",
                "tools/call",
                "close"
            ]
        );
    }

    #[tokio::test]
    async fn a_held_notification_is_written_before_the_close() {
        let recorder = Recorder::default();
        let mut wire = overlapped(&recorder);
        wire.send(initialize()).await.unwrap();
        wire.send(initialized()).await.unwrap();
        wire.close().await.unwrap();
        assert_eq!(
            *recorder.0.lock().unwrap(),
            [
                "initialize",
                "meanwhile",
                "notifications/initialized",
                "close"
            ]
        );
    }
}
