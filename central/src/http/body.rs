//! Request bodies within their route's limit: one place sets the limit and names it in the
//! 413 that refuses a larger body.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request};
use axum::http::StatusCode;

use super::ApiFailure;

/// The body limit of a route, as [`BoundedBody`] reads it to word its 413.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimit(usize);

/// The layers that cap a route's bodies at `max` bytes: axum's limit, and the number for the
/// refusal. Without them a route keeps axum's default limit of 2 MiB.
pub(crate) fn body_limit(max: usize) -> (DefaultBodyLimit, Extension<BodyLimit>) {
    (DefaultBodyLimit::max(max), Extension(BodyLimit(max)))
}

/// The whole body, read within the route's [`body_limit`]: larger is 413 `too_large`, a body
/// that cannot be read is 400 `bad_request`.
pub(crate) struct BoundedBody(pub(crate) Bytes);

impl<S: Send + Sync> FromRequest<S> for BoundedBody {
    type Rejection = ApiFailure;

    async fn from_request(req: Request, state: &S) -> Result<BoundedBody, ApiFailure> {
        let limit = req.extensions().get::<BodyLimit>().copied();
        let body = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiFailure::too_large(match limit {
                    Some(BodyLimit(max)) => format!("body is larger than {max} bytes"),
                    None => "body is larger than this route accepts".to_owned(),
                })
            } else {
                ApiFailure::bad_request(format!("body could not be read: {e}"))
            }
        })?;
        Ok(BoundedBody(body))
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::routing::post;
    use kiosk_api::ApiError;

    use super::{BoundedBody, body_limit};

    #[tokio::test]
    async fn a_body_over_its_routes_limit_is_refused_with_a_413_that_names_the_limit() {
        let app = Router::new().route(
            "/echo",
            post(|BoundedBody(body): BoundedBody| async move { body.len().to_string() })
                .layer(body_limit(8)),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/echo", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let http = reqwest::Client::new();

        let fits = http.post(&url).body(vec![b'x'; 8]).send().await.unwrap();
        assert_eq!(fits.status(), 200);
        assert_eq!(fits.text().await.unwrap(), "8");

        let over = http.post(&url).body(vec![b'x'; 9]).send().await.unwrap();
        assert_eq!(over.status(), 413);
        let error: ApiError = over.json().await.unwrap();
        assert_eq!(error.error, "too_large");
        assert_eq!(error.message, "body is larger than 8 bytes");
        server.abort();
    }
}
