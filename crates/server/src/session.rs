//! What the auth layer keeps between requests: the user store, the login throttle, the
//! session settings, and the finished router it reads resources through before writes.

use std::sync::{Arc, Mutex};

use access::LoginThrottle;
use store::UserStore;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "huanghe_session";

/// What the auth layer keeps between requests.
pub struct Auth {
    pub(crate) users: Arc<dyn UserStore>,
    pub(crate) throttle: Mutex<LoginThrottle>,
    pub(crate) session_ttl_ms: i64,
    /// Session cookies carry `Secure` (the server is reached through HTTPS).
    pub(crate) secure_cookie: bool,
    /// The finished router, for reading resources before writes. The router holds the state
    /// that holds this, so [`Auth::release_router`] breaks the cycle at shutdown.
    pub(crate) router: Mutex<Option<axum::Router>>,
}

impl Auth {
    /// Auth over a user store; sessions expire after `session_ttl_ms` without use; cookies are
    /// `Secure` when `secure_cookie` (behind HTTPS).
    pub fn new(users: Arc<dyn UserStore>, session_ttl_ms: i64, secure_cookie: bool) -> Self {
        Self {
            users,
            throttle: Mutex::new(LoginThrottle::default()),
            session_ttl_ms,
            secure_cookie,
            router: Mutex::new(None),
        }
    }

    /// Gives the layer the finished router, through which it reads resources before writes.
    pub(crate) fn set_router(&self, router: axum::Router) {
        if let Ok(mut r) = self.router.lock() {
            *r = Some(router);
        }
    }

    /// Drops the router (at shutdown: it holds the state, and the state holds the writer).
    pub fn release_router(&self) {
        if let Ok(mut r) = self.router.lock() {
            *r = None;
        }
    }
}
