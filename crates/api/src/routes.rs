//! Routes registered with their method and path, so the list the router
//! serves is data: a test checks it against the OpenAPI document both ways.

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{on, MethodFilter};
use axum::Router;

/// A router and the (method, path) of every route added to it.
pub struct Routes<S> {
    router: Router<S>,
    list: Vec<(Method, &'static str)>,
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Routes {
            router: Router::new(),
            list: Vec::new(),
        }
    }
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    /// No routes.
    pub fn new() -> Self {
        Self::default()
    }

    fn add<H, T>(mut self, method: Method, filter: MethodFilter, path: &'static str, h: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.router = self.router.route(path, on(filter, h));
        self.list.push((method, path));
        self
    }

    /// `GET path`.
    pub fn get<H, T>(self, path: &'static str, h: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.add(Method::GET, MethodFilter::GET, path, h)
    }

    /// `POST path`.
    pub fn post<H, T>(self, path: &'static str, h: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.add(Method::POST, MethodFilter::POST, path, h)
    }

    /// `PUT path`.
    pub fn put<H, T>(self, path: &'static str, h: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.add(Method::PUT, MethodFilter::PUT, path, h)
    }

    /// `DELETE path`.
    pub fn delete<H, T>(self, path: &'static str, h: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.add(Method::DELETE, MethodFilter::DELETE, path, h)
    }

    /// Both sets of routes.
    pub fn merge(mut self, other: Routes<S>) -> Self {
        self.router = self.router.merge(other.router);
        self.list.extend(other.list);
        self
    }

    /// The (method, path) of every route, in the order added.
    pub fn list(&self) -> &[(Method, &'static str)] {
        &self.list
    }

    /// The router.
    pub fn into_router(self) -> Router<S> {
        self.router
    }
}
