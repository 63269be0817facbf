//! axum's `todos` example (a RESTful server keeping todos in memory, with tower-http's trace
//! layer, a timeout, tracing, uuid and serde), made to take its listening socket from `hot`,
//! with a greeting at `/` to edit. It is the story benchmark's project bigger than
//! hello-world (`bench/story.py --project todos`); `hot init` in this directory writes its
//! Hotfile.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tower::{BoxError, ServiceBuilder};
use tower_http::trace::TraceLayer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use uuid::Uuid;

/// Edit me while `hot` runs.
const GREETING: &str = "Hello from the todos!";

fn app(db: Db) -> Router {
    Router::new()
        .route("/", get(|| async { GREETING }))
        .route("/todos", get(todos_index).post(todos_create))
        .route("/todos/{id}", patch(todos_update).delete(todos_delete))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(|error: BoxError| async move {
                    if error.is::<tower::timeout::error::Elapsed>() {
                        Ok(StatusCode::REQUEST_TIMEOUT)
                    } else {
                        Err((
                            StatusCode::INTERNAL_SERVER_ERROR,
                            format!("Unhandled internal error: {error}"),
                        ))
                    }
                }))
                .timeout(Duration::from_secs(10))
                .layer(TraceLayer::new_for_http())
                .into_inner(),
        )
        .with_state(db)
}

/// The socket hot passes, or one bound here when run without hot.
fn listener() -> std::io::Result<TcpListener> {
    // listenfd edits the environment, so it must run before the runtime starts its threads.
    let listener = match listenfd::ListenFd::from_env().take_tcp_listener(0)? {
        Some(listener) => listener,
        None => TcpListener::bind("127.0.0.1:3000")?,
    };
    listener.set_nonblocking(true)?;
    Ok(listener)
}

fn main() -> std::io::Result<()> {
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                format!("{}=debug,tower_http=info", env!("CARGO_CRATE_NAME")).into()
            }),
        )
        .with(tracing_subscriber::fmt::layer())
        .init();
    let listener = listener()?;
    tokio::runtime::Runtime::new()?.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        tracing::debug!("listening on {}", listener.local_addr()?);
        // hot waits for this line (`ready log=...`) before it stops the previous instance.
        println!("listening on http://{}", listener.local_addr()?);
        axum::serve(listener, app(Db::default())).await
    })
}

/// The query parameters of the todos index.
#[derive(Debug, Deserialize, Default)]
pub struct Pagination {
    pub offset: Option<usize>,
    pub limit: Option<usize>,
}

async fn todos_index(pagination: Query<Pagination>, State(db): State<Db>) -> impl IntoResponse {
    let todos = db.read().unwrap();
    let todos = todos
        .values()
        .skip(pagination.offset.unwrap_or(0))
        .take(pagination.limit.unwrap_or(usize::MAX))
        .cloned()
        .collect::<Vec<_>>();
    Json(todos)
}

#[derive(Debug, Deserialize)]
struct CreateTodo {
    text: String,
}

async fn todos_create(State(db): State<Db>, Json(input): Json<CreateTodo>) -> impl IntoResponse {
    let todo = Todo {
        id: Uuid::new_v4(),
        text: input.text,
        completed: false,
    };
    db.write().unwrap().insert(todo.id, todo.clone());
    (StatusCode::CREATED, Json(todo))
}

#[derive(Debug, Deserialize)]
struct UpdateTodo {
    text: Option<String>,
    completed: Option<bool>,
}

async fn todos_update(
    Path(id): Path<Uuid>,
    State(db): State<Db>,
    Json(input): Json<UpdateTodo>,
) -> Result<impl IntoResponse, StatusCode> {
    let mut todo = db
        .read()
        .unwrap()
        .get(&id)
        .cloned()
        .ok_or(StatusCode::NOT_FOUND)?;
    if let Some(text) = input.text {
        todo.text = text;
    }
    if let Some(completed) = input.completed {
        todo.completed = completed;
    }
    db.write().unwrap().insert(todo.id, todo.clone());
    Ok(Json(todo))
}

async fn todos_delete(Path(id): Path<Uuid>, State(db): State<Db>) -> impl IntoResponse {
    if db.write().unwrap().remove(&id).is_some() {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

type Db = Arc<RwLock<HashMap<Uuid, Todo>>>;

#[derive(Debug, Serialize, Deserialize, Clone)]
struct Todo {
    id: Uuid,
    text: String,
    completed: bool,
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    async fn call(app: Router, method: &str, uri: &str, body: &str) -> (StatusCode, String) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn greets() {
        let (status, body) = call(app(Db::default()), "GET", "/", "").await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, GREETING));
    }

    #[tokio::test]
    async fn creates_updates_and_deletes_a_todo() {
        let db = Db::default();
        let (status, body) = call(app(db.clone()), "POST", "/todos", r#"{"text":"milk"}"#).await;
        assert_eq!(status, StatusCode::CREATED);
        let todo: Todo = serde_json::from_str(&body).unwrap();
        assert_eq!((todo.text.as_str(), todo.completed), ("milk", false));

        let uri = format!("/todos/{}", todo.id);
        let (status, body) = call(app(db.clone()), "PATCH", &uri, r#"{"completed":true}"#).await;
        assert_eq!(status, StatusCode::OK);
        assert!(serde_json::from_str::<Todo>(&body).unwrap().completed);

        let (_, body) = call(app(db.clone()), "GET", "/todos?limit=5", "").await;
        assert_eq!(serde_json::from_str::<Vec<Todo>>(&body).unwrap().len(), 1);

        let (status, _) = call(app(db.clone()), "DELETE", &uri, "").await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = call(app(db), "DELETE", &uri, "").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
