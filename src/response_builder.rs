//! [`ResponseBuilder`]: a [`Response`] in one expression, status and headers first, the
//! body last, without the `Result` of `http`'s own builder.

use std::fmt;

use ::http::header::{self, HeaderMap, HeaderValue, IntoHeaderName};
use ::http::{Extensions, StatusCode};

use crate::{Body, Response};

/// Starts a [`Response`]: `200 OK`, no headers, until the builder says otherwise.
///
/// The same as [`ResponseBuilder::new`].
///
/// # Examples
///
/// ```
/// use nioserve::http::StatusCode;
///
/// let response = nioserve::response()
///     .status(StatusCode::NOT_FOUND)
///     .content_type("text/plain; charset=utf-8")
///     .body("no such page\n");
/// assert_eq!(response.status(), 404);
/// assert_eq!(response.headers()["content-type"], "text/plain; charset=utf-8");
/// assert_eq!(response.body().len(), Some(13));
/// ```
pub fn response() -> ResponseBuilder {
    ResponseBuilder::new()
}

/// Builds a [`Response`]: status, headers and extensions, then
/// [`body`](ResponseBuilder::body), which returns the response itself.
///
/// Unlike [`http::response::Builder`], whose `body` returns a `Result` for whatever
/// invalid status or header it was given earlier, this builder checks each part as it
/// is given and panics on an invalid one (see [`status`](ResponseBuilder::status) and
/// [`header`](ResponseBuilder::header)): in a handler, parts are nearly always written
/// in the code, and an invalid one is a bug. A panicking handler gets its client a
/// `500` and an `error` line in the log, not a broken server. For a value that comes
/// from outside (a client's input), make the [`HeaderValue`] first with
/// `HeaderValue::try_from` and decide what to do if it fails.
///
/// # Examples
///
/// ```
/// use nioserve::http::{header, StatusCode};
/// use nioserve::{Request, Response};
///
/// fn handle(req: Request) -> Response {
///     match req.uri().path() {
///         "/" => nioserve::response().content_type("text/html; charset=utf-8").body("<h1>Hello</h1>"),
///         "/old" => nioserve::response()
///             .status(StatusCode::MOVED_PERMANENTLY)
///             .header(header::LOCATION, "/")
///             .body(Body::Empty),
///         _ => nioserve::response().status(404).body(format!("no {}\n", req.uri().path())),
///     }
/// }
/// # use nioserve::Body;
/// assert_eq!(handle(Request::new(Default::default())).status(), 200);
/// ```
#[must_use = "a response builder makes nothing until `body` is called"]
pub struct ResponseBuilder {
    head: ::http::Response<()>,
}

impl ResponseBuilder {
    /// A builder for a `200 OK` response without headers.
    ///
    /// # Examples
    ///
    /// ```
    /// let response = nioserve::ResponseBuilder::new().body("hi");
    /// assert_eq!(response.status(), 200);
    /// assert!(response.headers().is_empty());
    /// ```
    pub fn new() -> ResponseBuilder {
        ResponseBuilder {
            head: ::http::Response::new(()),
        }
    }

    /// Sets the status: a [`StatusCode`] or its number (`404`).
    ///
    /// The server frames the response by its status: see [`Handler`](crate::Handler)
    /// for what is sent with a `1xx`, `204` or `304`.
    ///
    /// # Panics
    ///
    /// Panics if `status` is a number outside `100..=999`.
    ///
    /// # Examples
    ///
    /// ```
    /// use nioserve::http::StatusCode;
    ///
    /// assert_eq!(nioserve::response().status(StatusCode::CREATED).body("made").status(), 201);
    /// assert_eq!(nioserve::response().status(418).body("tea").status(), 418);
    /// ```
    pub fn status<S>(mut self, status: S) -> ResponseBuilder
    where
        S: TryInto<StatusCode>,
        S::Error: fmt::Display,
    {
        *self.head.status_mut() = match status.try_into() {
            Ok(status) => status,
            Err(e) => panic!("invalid response status: {e}"),
        };
        self
    }

    /// Adds a header field; a field already there of the same name is kept (use
    /// [`headers_mut`](ResponseBuilder::headers_mut) to replace one).
    ///
    /// The name is a [`header`] constant or a `&'static str`; the value
    /// anything a [`HeaderValue`] is made from: a `&str`, a `String`, a number, a
    /// `HeaderValue`. The server writes the framing fields itself (`Content-Length`,
    /// `Transfer-Encoding`, `Connection`); see [`Handler`](crate::Handler).
    ///
    /// # Panics
    ///
    /// Panics if the name is not a valid field name, or the value is not a valid field
    /// value (it holds a control character such as `\r` or `\n`).
    ///
    /// # Examples
    ///
    /// ```
    /// use nioserve::http::header;
    ///
    /// let response = nioserve::response()
    ///     .header(header::CACHE_CONTROL, "no-store")
    ///     .header("x-request-count", 7)
    ///     .header(header::SET_COOKIE, "a=1")
    ///     .header(header::SET_COOKIE, String::from("b=2"))
    ///     .body("counted");
    /// assert_eq!(response.headers()["x-request-count"], "7");
    /// assert_eq!(response.headers().get_all(header::SET_COOKIE).iter().count(), 2);
    /// ```
    pub fn header<K, V>(mut self, name: K, value: V) -> ResponseBuilder
    where
        K: IntoHeaderName,
        V: TryInto<HeaderValue>,
        V::Error: fmt::Display,
    {
        let value = match value.try_into() {
            Ok(value) => value,
            Err(e) => panic!("invalid response header value: {e}"),
        };
        self.head.headers_mut().append(name, value);
        self
    }

    /// Sets `Content-Type`, replacing one set before.
    ///
    /// # Panics
    ///
    /// Panics if the value is not a valid field value, as [`header`](ResponseBuilder::header) does.
    ///
    /// # Examples
    ///
    /// ```
    /// let response = nioserve::response().content_type("application/json").body(r#"{"ok":true}"#);
    /// assert_eq!(response.headers()["content-type"], "application/json");
    /// ```
    pub fn content_type<V>(mut self, value: V) -> ResponseBuilder
    where
        V: TryInto<HeaderValue>,
        V::Error: fmt::Display,
    {
        let value = match value.try_into() {
            Ok(value) => value,
            Err(e) => panic!("invalid Content-Type: {e}"),
        };
        self.head.headers_mut().insert(header::CONTENT_TYPE, value);
        self
    }

    /// The header fields so far, to change as a [`HeaderMap`] allows: replace a field,
    /// remove one, or insert a value whose validity was checked by the caller.
    ///
    /// # Examples
    ///
    /// ```
    /// use nioserve::http::header::{self, HeaderValue};
    ///
    /// let mut builder = nioserve::response();
    /// match HeaderValue::try_from("from a client\n") {
    ///     Ok(value) => {
    ///         builder.headers_mut().insert("x-echo", value);
    ///     }
    ///     Err(_) => {
    ///         builder.headers_mut().insert("x-echo", HeaderValue::from_static("invalid"));
    ///     }
    /// }
    /// assert_eq!(builder.body("").headers()["x-echo"], "invalid");
    /// ```
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        self.head.headers_mut()
    }

    /// Adds an extension to the response, such as the [`OnUpgrade`](crate::OnUpgrade)
    /// of a `101 Switching Protocols`; one of the same type set before is replaced.
    ///
    /// # Examples
    ///
    /// ```
    /// #[derive(Clone, Debug, PartialEq)]
    /// struct Route(&'static str);
    ///
    /// let response = nioserve::response().extension(Route("/users")).body("");
    /// assert_eq!(response.extensions().get::<Route>(), Some(&Route("/users")));
    /// ```
    pub fn extension<T>(mut self, extension: T) -> ResponseBuilder
    where
        T: Clone + Send + Sync + 'static,
    {
        self.head.extensions_mut().insert(extension);
        self
    }

    /// The extensions so far.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut builder = nioserve::response();
    /// builder.extensions_mut().insert(7u32);
    /// assert_eq!(builder.body("").extensions().get::<u32>(), Some(&7));
    /// ```
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        self.head.extensions_mut()
    }

    /// Finishes the response with `body`: anything that becomes a [`Body`], such as a
    /// `&'static str`, a `String`, a `Vec<u8>`, [`Bytes`](bytes::Bytes), a
    /// [`FileRegion`](crate::FileRegion) or [`Body::Empty`].
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use nioserve::bytes::Bytes;
    /// use nioserve::{Body, FileRegion};
    ///
    /// assert_eq!(nioserve::response().body("static").body().len(), Some(6));
    /// assert_eq!(nioserve::response().body(String::from("owned")).body().len(), Some(5));
    /// assert_eq!(nioserve::response().body(vec![1u8, 2, 3]).body().len(), Some(3));
    /// assert_eq!(nioserve::response().body(Bytes::from_static(b"shared")).body().len(), Some(6));
    /// let file = FileRegion::whole(std::fs::File::open("Cargo.toml")?)?;
    /// let len = file.len();
    /// assert_eq!(nioserve::response().body(file).body().len(), Some(len));
    /// assert_eq!(nioserve::response().status(204).body(Body::Empty).body().len(), Some(0));
    /// # Ok(())
    /// # }
    /// ```
    pub fn body(self, body: impl Into<Body>) -> Response {
        self.head.map(|()| body.into())
    }
}

impl Default for ResponseBuilder {
    fn default() -> ResponseBuilder {
        ResponseBuilder::new()
    }
}

impl fmt::Debug for ResponseBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBuilder")
            .field("status", &self.head.status())
            .field("headers", self.head.headers())
            .finish_non_exhaustive()
    }
}
