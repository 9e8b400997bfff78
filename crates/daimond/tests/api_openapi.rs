//! The served OpenAPI document is true: every operation it lists is served
//! (with a status it declares for that operation), and the router serves
//! nothing it does not list (the unit test beside `http/openapi.rs` compares
//! it with the routing table).

mod api_common;
mod common;

use api_common::Api;
use common::Daemon;

#[test]
fn every_listed_operation_is_served_with_a_declared_status() {
    let d = Daemon::start();
    let api = Api::of(d.path());
    let doc = api.get("api/openapi.json");
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 15, "{}", paths.len());
    for (path, ops) in paths {
        for (method, op) in ops.as_object().expect("operations") {
            let concrete = path.replace("{name}", "nosuch.service");
            let rel = concrete.trim_start_matches('/');
            let a = if method == "get" {
                // Streams answer 200 and stay open: a short look is enough.
                api.curl(&["--max-time", "2"], rel)
            } else {
                api.curl(&["-X", "POST", "--max-time", "10"], rel)
            };
            let declared = op["responses"]
                .as_object()
                .expect("responses")
                .contains_key(&a.status.to_string());
            assert!(
                declared,
                "{method} {path} answered {} which it does not declare: {}",
                a.status, a.body
            );
            assert!(
                a.status != 500 && a.status != 405,
                "{method} {path}: {} {}",
                a.status,
                a.body
            );
            if a.status >= 400 {
                let code = a.code();
                assert!(
                    !code.is_empty(),
                    "{method} {path}: a JSON error: {}",
                    a.body
                );
                assert_ne!(code, "no_route", "{method} {path} is listed but not served");
            }
        }
    }
    // And the router knows nothing more: an unlisted path is no route.
    let none = api.get("api/unlisted");
    assert_eq!((none.status, none.code()), (404, "no_route".into()));
}
