//! The OpenAPI 3.1 description of the HTTP API, served at `/api/openapi.json`.
//! It is kept true by tests: its paths and methods are exactly `routes::ROUTES`
//! (below), and every one of them is served (tests/api_openapi.rs).

pub const DOCUMENT: &str = include_str!("openapi.json");

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn document_lists_exactly_the_routes_served() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).expect("valid JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        let mut listed = BTreeSet::new();
        for (path, ops) in doc["paths"].as_object().expect("paths") {
            for method in ops.as_object().expect("operations").keys() {
                listed.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
        let served: BTreeSet<_> = super::super::routes::ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        assert_eq!(listed, served);
        // Every $ref points at something defined.
        for r in DOCUMENT.split("\"$ref\": \"#/components/").skip(1) {
            let target = r.split('"').next().unwrap_or("");
            let (kind, name) = target.split_once('/').expect("kind/name");
            assert!(
                doc["components"][kind][name].is_object(),
                "dangling $ref {target}"
            );
        }
    }
}
