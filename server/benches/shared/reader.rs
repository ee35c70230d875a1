//! A read-scoped API token for the benchmarks that query over HTTP (the
//! Prometheus API needs one): a viewer without a usable password, and
//! its token.

use dozor_server::storage::{Role, Scope};
use dozor_server::Server;

pub async fn read_token(server: &Server) -> String {
    let now = dozor_server::clock::system_ms();
    server
        .store
        .create_user("bench", "!unusable", Role::Viewer, false, now)
        .await
        .unwrap();
    dozor_server::app::mint_api_token(&server.store, "bench", "bench", Scope::Read, None)
        .await
        .unwrap()
}
