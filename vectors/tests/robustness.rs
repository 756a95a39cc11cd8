//! Hostile, truncated and mistyped vector files give errors naming file, entry and field; the
//! loaders never panic on arbitrary JSON.

use p2mls_vectors::{load, ProviderKind, Verdict, FILES};
use proptest::prelude::*;

#[test]
fn truncated_file_names_the_file() {
    let err = load::parse_entries("secret-tree.json", b"[{\"cipher_suite\": 1,").unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("secret-tree.json: not valid JSON"),
        "{text}"
    );
}

#[test]
fn mistyped_field_names_file_entry_and_field() {
    let json = br#"[{"cipher_suite": 1, "psks": [], "psk_secret": "00"},
                   {"cipher_suite": 1, "psks": [{"psk_id": "zz", "psk": "00", "psk_nonce": "00"}],
                    "psk_secret": "00"}]"#;
    let err = load::load::<p2mls_vectors::psk_secret::Entry>("psk_secret.json", json).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("psk_secret.json: entry 1, field `psks[0].psk_id`"),
        "{text}"
    );
    assert!(text.contains("invalid hex"), "{text}");
}

#[test]
fn hostile_entry_is_an_error_verdict_not_a_panic() {
    let kind = p2mls_vectors::file_kind("secret-tree").expect("known file");
    // A well-formed entry with wrong values fails on the named field.
    let value = serde_json::json!({
        "cipher_suite": 1,
        "encryption_secret": "00",
        "sender_data": {"sender_data_secret": "00", "ciphertext": "00", "key": "00", "nonce": "00"},
        "leaves": []
    });
    let outcome = kind.run(ProviderKind::RustCrypto, 0, &value);
    assert_eq!(outcome.verdict, Verdict::Fail, "{outcome:?}");
    assert!(
        outcome.reason.contains("sender_data.key"),
        "{}",
        outcome.reason
    );
    // A mistyped entry is an error verdict naming file, entry and field.
    let value = serde_json::json!({"cipher_suite": 1, "leaves": "nope"});
    let outcome = kind.run(ProviderKind::RustCrypto, 7, &value);
    assert_eq!(outcome.verdict, Verdict::Error);
    assert!(
        outcome.reason.contains("secret-tree.json: entry 7"),
        "{}",
        outcome.reason
    );
}

#[test]
fn huge_generations_are_refused_not_ratcheted() {
    let provider = openmls_rust_crypto::OpenMlsRustCrypto::default();
    let suite = openmls::prelude::Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
    let cs =
        p2mls_vectors::crypto::Cs::new(suite, openmls::prelude::OpenMlsProvider::crypto(&provider));
    let tree = p2mls_vectors::schedule::SecretTree::new(cs, &[0u8; 32], 2);
    let err = tree
        .key_nonce(0, p2mls_vectors::schedule::RatchetKind::Handshake, u32::MAX)
        .unwrap_err();
    assert!(err.contains("above the verifier's limit"), "{err}");
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u32>().prop_map(serde_json::Value::from),
        "[0-9a-f]{0,64}".prop_map(serde_json::Value::from),
        ".{0,8}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("cipher_suite".to_owned()),
                    Just("leaves".to_owned()),
                    Just("tree".to_owned()),
                    Just("epochs".to_owned()),
                    Just("n_leaves".to_owned()),
                    "[a-z_]{1,12}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Arbitrary JSON (as a whole file and as single entries) never panics any loader or
    /// verifier: it ends in a load error or a verdict.
    #[test]
    fn loaders_never_panic(value in arb_json()) {
        let bytes = serde_json::to_vec(&serde_json::Value::Array(vec![value.clone()])).unwrap();
        for kind in FILES {
            let _ = load::parse_entries(kind.file, &bytes);
            let outcome = kind.run(ProviderKind::RustCrypto, 0, &value);
            prop_assert!(!outcome.reason.contains("panicked"), "{}: {}", kind.file, outcome.reason);
        }
    }

    /// Arbitrary bytes as a file never panic the parser.
    #[test]
    fn raw_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = load::parse_entries("tree-math.json", &bytes);
    }
}
