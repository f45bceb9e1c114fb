//! Telling an error to a person: its message, then each cause, each said once. Error types keep
//! their causes as `#[source]` and do not repeat them in their own message; whoever shows an
//! error to a user (the CLI, a status condition, a log line, a diagnostic) shows it through
//! [`chain`].

use std::error::Error;

/// `error: cause: cause's cause`, skipping a cause whose text the message already holds.
pub fn chain(error: &(dyn Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read plugin.wasm")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn causes_follow_the_message_once() {
        let error = Outer(std::io::Error::other("no such file"));
        assert_eq!(chain(&error), "cannot read plugin.wasm: no such file");
    }
}
