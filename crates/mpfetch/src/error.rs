//! The downloader's error type. No variant ever holds the API key: URLs carry no key (it goes in
//! the `x-api-key` header only) and server messages are scrubbed of it ([`crate::key::ApiKey::scrub`]).

/// Why a fetch stopped. Per-document problems (a document that stayed broken after every retry)
/// do not stop a fetch; they are listed in [`crate::FetchSummary::failures`].
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No API key in `MP_API_KEY` nor in the config file.
    #[error("no Materials Project API key: set MP_API_KEY, or put api_key = \"...\" under [materials_project] in {config} (get a key at https://next-gen.materialsproject.org/api after logging in)")]
    MissingKey {
        /// The config file that was looked at.
        config: String,
    },
    /// The API answered 401/403 to a request carrying the key.
    #[error("the Materials Project rejected the API key (HTTP {status} from {route}); check the key in MP_API_KEY or the config file (the key itself is not shown)")]
    KeyRejected {
        /// HTTP status.
        status: u16,
        /// The route (`materials/summary`), without the query.
        route: String,
    },
    /// A local file could not be read or written.
    #[error("{path}: {problem}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        problem: String,
    },
    /// A config or id-list file is malformed.
    #[error("{path}: {place}: {problem}")]
    Config {
        /// The file.
        path: String,
        /// Line or key.
        place: String,
        /// What is wrong.
        problem: String,
    },
    /// A request failed for good (after the retries), or the server's answer is unusable.
    #[error("{url}: {problem}")]
    Http {
        /// URL without the key (keys never go in URLs).
        url: String,
        /// What went wrong.
        problem: String,
    },
    /// A bad option value.
    #[error("--{option}: {problem}")]
    Option {
        /// The option's name.
        option: String,
        /// What is wrong.
        problem: String,
    },
}

impl FetchError {
    pub(crate) fn io(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        FetchError::Io {
            path: path.display().to_string(),
            problem: e.to_string(),
        }
    }
}
