//! The committed OpenAPI document lists exactly the routes the router serves.

use std::collections::BTreeSet;

#[test]
fn openapi_document_covers_every_route() {
    let doc: serde_json::Value = serde_json::from_str(include_str!("../openapi.json")).expect("valid JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    // Every `.route(` path of src/api.rs, read from the source so a new route cannot go undocumented.
    let src = include_str!("../src/api.rs");
    let served: BTreeSet<&str> = src
        .split(".route(\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .filter(|p| *p != "/")
        .collect();
    assert_eq!(documented, served);
}
