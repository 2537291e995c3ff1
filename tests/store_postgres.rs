//! The PostgreSQL store on a real PostgreSQL (a throwaway cluster: see
//! `tests/support/postgres.rs`): the store contract every backend passes,
//! and what is PostgreSQL's own: migrations under the advisory lock, the
//! schema version check, statement timeouts, reconnection.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a test failure

#[path = "contract/store.rs"]
#[macro_use]
mod contract;
#[path = "support/postgres.rs"]
mod pg;

use std::sync::Arc;
use std::time::Duration;

use codelab_agent::domain::{Role, SessionId, TurnId};
use codelab_agent::store::postgres::{self, SCHEMA_VERSION};
use codelab_agent::store::{ForwardedDecision, LeaseOutcome, PgStore, Store, StoreError};

/// A database of its own on the test cluster.
struct Pg(String);

impl contract::Backend for Pg {
    async fn create() -> Self {
        Self(pg::cluster().fresh_database().await)
    }

    async fn open(&self) -> Arc<dyn Store> {
        Arc::new(PgStore::connect(&self.0).await.unwrap())
    }
}

store_contract!(Pg);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_together_migrate_once() {
    let url = pg::cluster().fresh_database().await;
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { PgStore::connect(&url).await })
        })
        .collect();
    let mut stores = Vec::new();
    for o in opens {
        stores.push(o.await.unwrap().unwrap());
    }
    let db = pg::Cluster::connect(&url).await;
    let applied: Vec<i64> = db
        .query(
            "SELECT version FROM codelab_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(applied, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
    // All of them work on the one schema.
    let s = stores[3]
        .create_session(contract::session("shared"))
        .await
        .unwrap();
    assert_eq!(stores[0].get_session(s.id).await.unwrap().title, "shared");
    for s in stores {
        s.close().await;
    }
}

#[tokio::test]
async fn a_newer_schema_is_refused_with_a_clear_message() {
    let url = pg::cluster().fresh_database().await;
    postgres::force_version(&url, SCHEMA_VERSION + 1)
        .await
        .unwrap();
    let err = PgStore::connect(&url).await.expect_err("too new");
    assert!(
        matches!(err, StoreError::DatabaseTooNew { found, .. } if found == (SCHEMA_VERSION + 1) as u64),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("newer than the"), "{msg}");
    assert!(msg.contains("upgrade codelab-agent"), "{msg}");
}

#[tokio::test]
async fn a_bad_url_or_an_unreachable_database_is_a_clear_error() {
    let err = PgStore::connect("postgres://user:secret@[bad")
        .await
        .expect_err("malformed");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert!(!err.to_string().contains("secret"), "{err}");
    // A socket directory where no server listens.
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "postgres:///none?host={}&user=postgres&password=secret",
        dir.path().display()
    );
    let err = PgStore::connect(&url).await.expect_err("unreachable");
    assert!(matches!(err, StoreError::Storage(_)), "{err:?}");
    assert!(err.to_string().contains("database"), "{err}");
}

#[tokio::test]
async fn connections_carry_the_statement_timeout() {
    let url = pg::cluster().fresh_database().await;
    let store = PgStore::connect(&url).await.unwrap();
    let c = store.pool().get().await.unwrap();
    let timeout: String = c
        .query_one("SHOW statement_timeout", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(timeout, "30s");
    drop(c);
    store.close().await;
}

/// The database drops every connection (as a restart does): the writes in
/// flight may fail, and the store connects again for the next ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_reconnects_after_its_connections_are_dropped() {
    let url = pg::cluster().fresh_database().await;
    let store = PgStore::connect(&url).await.unwrap();
    let s = store
        .create_session(contract::session("before"))
        .await
        .unwrap();
    store
        .append_messages(s.id, vec![contract::message(s.id, 1, Role::User, "one")])
        .await
        .unwrap();
    let admin = pg::Cluster::connect(&pg::cluster().url("postgres")).await;
    let name = url
        .split('?')
        .next()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let killed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1",
            &[&name],
        )
        .await
        .unwrap()
        .get(0);
    assert!(killed > 0, "the store held connections");
    // The first write after may meet a dead connection; it is then refused,
    // never half done. Within a few attempts a fresh connection is used.
    let mut seq = 2;
    let mut refused = 0;
    while seq < 5 {
        match store
            .append_messages(s.id, vec![contract::message(s.id, seq, Role::User, "m")])
            .await
        {
            Ok(_) => seq += 1,
            Err(e) => {
                assert!(matches!(e, StoreError::Storage(_)), "{e:?}");
                refused += 1;
                assert!(refused < 20, "the store does not reconnect: {e}");
            }
        }
    }
    assert!(store.reachable().await);
    let seqs: Vec<u64> = store
        .history(s.id, 0, 100)
        .await
        .unwrap()
        .items
        .iter()
        .map(|m| m.seq)
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    store.close().await;
}

/// Two instances over one database, each with its own store.
async fn two_instances() -> (String, PgStore, PgStore) {
    let url = pg::cluster().fresh_database().await;
    let a = PgStore::connect_as(&url, "instance-a").await.unwrap();
    let b = PgStore::connect_as(&url, "instance-b").await.unwrap();
    (url, a, b)
}

/// Takes the lease on `store` once it is free (it expires on the
/// database's clock); panics after many attempts.
async fn take_over(store: &PgStore, id: SessionId) -> LeaseOutcome {
    for _ in 0..500 {
        let outcome = store
            .acquire_lease(id, Duration::from_secs(60), None)
            .await
            .unwrap();
        if matches!(outcome, LeaseOutcome::Held { .. }) {
            return outcome;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the lease of {id} never expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_is_exclusive_and_fences_the_instance_that_lost_it() {
    let (url, a, b) = two_instances().await;
    let s = a.create_session(contract::session("leased")).await.unwrap();
    let turn = TurnId::new();
    let LeaseOutcome::Held {
        generation: g1,
        took_over_from: None,
        handed_over: false,
        ..
    } = a
        .acquire_lease(s.id, Duration::from_secs(60), Some(turn))
        .await
        .unwrap()
    else {
        panic!("a free session's lease is taken");
    };
    // Held by A in time: B is refused, and told by whom.
    match b
        .acquire_lease(s.id, Duration::from_secs(60), None)
        .await
        .unwrap()
    {
        LeaseOutcome::HeldElsewhere { owner, .. } => assert_eq!(owner, "instance-a"),
        other => panic!("{other:?}"),
    }
    a.append_messages(s.id, vec![contract::message(s.id, 1, Role::User, "from a")])
        .await
        .unwrap();
    // A stops renewing (as a paused process does): its lease runs out ...
    a.acquire_lease(s.id, Duration::from_millis(1), Some(turn))
        .await
        .unwrap();
    // ... and B takes the session over, learning of the turn that died.
    let LeaseOutcome::Held {
        generation: g2,
        took_over_from,
        running_turn,
        handed_over,
    } = take_over(&b, s.id).await
    else {
        unreachable!()
    };
    assert!(g2 > g1, "{g2} > {g1}");
    assert_eq!(took_over_from.as_deref(), Some("instance-a"));
    assert_eq!(running_turn, Some(turn));
    assert!(handed_over, "the session changed hands");
    b.append_messages(
        s.id,
        vec![contract::message(s.id, 2, Role::Assistant, "from b")],
    )
    .await
    .unwrap();

    // A wakes up: every write of it to the session fails the generation check.
    let err = a
        .append_messages(s.id, vec![contract::message(s.id, 3, Role::User, "late a")])
        .await
        .expect_err("fenced");
    assert!(
        matches!(err, StoreError::Fenced { session, .. } if session == s.id),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("taken over by another instance"),
        "{err}"
    );
    let mut approval_of_a = contract::pending_approval(s.id);
    approval_of_a.turn_id = turn;
    assert!(matches!(
        a.put_approval(approval_of_a).await,
        Err(StoreError::Fenced { .. })
    ));
    assert!(matches!(
        a.set_session_agent(s.id, "planner".into()).await,
        Err(StoreError::Fenced { .. })
    ));
    // Its heartbeat learns that the lease is gone.
    assert_eq!(
        a.renew_leases(Duration::from_secs(60)).await.unwrap(),
        [s.id]
    );
    assert!(
        b.renew_leases(Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty()
    );
    // Knowing it, A still cannot write (its turn may not have stopped yet),
    // and hears of the loss once.
    let err = a
        .append_messages(
            s.id,
            vec![contract::message(s.id, 3, Role::User, "later a")],
        )
        .await
        .expect_err("still fenced");
    assert!(matches!(err, StoreError::Fenced { .. }), "{err:?}");
    assert!(
        a.renew_leases(Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty()
    );

    // Nothing written after the takeover comes from A.
    let texts: Vec<String> = b
        .history(s.id, 0, 100)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(texts, ["from a", "from b"]);
    assert!(b.list_approvals(Some(s.id)).await.unwrap().is_empty());
    let db = pg::Cluster::connect(&url).await;
    let row = db
        .query_one(
            "SELECT lease_owner, lease_gen FROM codelab_sessions WHERE id = $1",
            &[&s.id.uuid()],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, Option<String>>(0).as_deref(),
        Some("instance-b")
    );
    assert_eq!(row.get::<_, i64>(1) as u64, g2);

    // Released, the session is free at once for anyone.
    b.release_lease(s.id).await.unwrap();
    let LeaseOutcome::Held {
        generation: g3,
        took_over_from: None,
        ..
    } = a
        .acquire_lease(s.id, Duration::from_secs(60), None)
        .await
        .unwrap()
    else {
        panic!("a released lease is free");
    };
    assert!(g3 > g2);
    a.append_messages(
        s.id,
        vec![contract::message(s.id, 3, Role::User, "a again")],
    )
    .await
    .unwrap();
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_racing_for_a_lease_one_wins() {
    let (_url, a, b) = two_instances().await;
    let s = a.create_session(contract::session("race")).await.unwrap();
    let (ra, rb) = tokio::join!(
        a.acquire_lease(s.id, Duration::from_secs(60), None),
        b.acquire_lease(s.id, Duration::from_secs(60), None)
    );
    let held = [ra.unwrap(), rb.unwrap()]
        .iter()
        .filter(|o| matches!(o, LeaseOutcome::Held { .. }))
        .count();
    assert_eq!(held, 1);
    a.close().await;
    b.close().await;
}

fn decision(session_id: SessionId, call_id: &str, payload: &str) -> ForwardedDecision {
    ForwardedDecision {
        session_id,
        call_id: call_id.into(),
        payload: payload.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_ended_in_the_store_is_not_ended_again_and_decisions_outlive_their_instance() {
    let (_url, a, b) = two_instances().await;
    let s = a
        .create_session(contract::session("decided"))
        .await
        .unwrap();
    let t1 = TurnId::new();
    a.acquire_lease(s.id, Duration::from_secs(60), Some(t1))
        .await
        .unwrap();
    // B decides for the turn waiting on A: kept, read by any instance; a
    // second decision for the same call replaces the first.
    for payload in ["first", "second"] {
        b.put_decision(decision(s.id, "c1", payload)).await.unwrap();
    }
    let kept = a.decisions(s.id).await.unwrap();
    assert_eq!(kept, [decision(s.id, "c1", "second")]);
    let unknown = SessionId::new();
    assert!(matches!(
        b.put_decision(decision(unknown, "c1", "x")).await,
        Err(StoreError::SessionNotFound(id)) if id == unknown
    ));

    // A's turn ends in the store, but its lease is not let go (a release
    // that failed): once it expires, B takes the session over and finds no
    // turn to end a second time.
    a.finish_turn(s.id, t1).await.unwrap();
    assert_eq!(
        a.session_lease(s.id).await.unwrap(),
        Some(("instance-a".to_owned(), None))
    );
    a.renew_leases(Duration::from_millis(1)).await.unwrap();
    let LeaseOutcome::Held {
        took_over_from,
        running_turn,
        ..
    } = take_over(&b, s.id).await
    else {
        unreachable!()
    };
    assert_eq!(took_over_from.as_deref(), Some("instance-a"));
    assert_eq!(running_turn, None, "no turn is left to end");

    // B's next turn dies with it: A takes over the turn to end, and the
    // decision kept for it.
    let t2 = TurnId::new();
    b.acquire_lease(s.id, Duration::from_secs(60), Some(t2))
        .await
        .unwrap();
    b.renew_leases(Duration::from_millis(1)).await.unwrap();
    let LeaseOutcome::Held { running_turn, .. } = take_over(&a, s.id).await else {
        unreachable!()
    };
    assert_eq!(running_turn, Some(t2));
    // B, waking up, can neither end that turn nor drop the decision.
    assert!(matches!(
        b.finish_turn(s.id, t2).await,
        Err(StoreError::Fenced { .. })
    ));
    assert!(matches!(
        b.drop_decisions(s.id).await,
        Err(StoreError::Fenced { .. })
    ));
    // Nor once its heartbeat has learnt that it lost the lease.
    assert_eq!(
        b.renew_leases(Duration::from_secs(60)).await.unwrap(),
        [s.id]
    );
    assert!(matches!(
        b.finish_turn(s.id, t2).await,
        Err(StoreError::Fenced { .. })
    ));
    assert!(matches!(
        b.drop_decisions(s.id).await,
        Err(StoreError::Fenced { .. })
    ));
    assert_eq!(b.decisions(s.id).await.unwrap().len(), 1);
    a.drop_decisions(s.id).await.unwrap();
    assert!(b.decisions(s.id).await.unwrap().is_empty());
    // A deleted session takes its decisions along.
    b.put_decision(decision(s.id, "c2", "late")).await.unwrap();
    a.delete_session(s.id).await.unwrap();
    assert!(a.decisions(s.id).await.unwrap().is_empty());
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_asked_on_one_instance_is_read_by_the_one_running_the_turn() {
    let (_url, a, b) = two_instances().await;
    let s = a.create_session(contract::session("cancel")).await.unwrap();
    let turn = TurnId::new();
    // No turn runs: nothing to ask.
    b.request_cancel(s.id, turn).await.unwrap();
    assert!(a.cancel_requests().await.unwrap().is_empty());
    a.acquire_lease(s.id, Duration::from_secs(60), Some(turn))
        .await
        .unwrap();
    b.request_cancel(s.id, turn).await.unwrap();
    assert_eq!(a.cancel_requests().await.unwrap(), [(s.id, turn)]);
    assert!(
        b.cancel_requests().await.unwrap().is_empty(),
        "only the owner is asked"
    );
    // The next turn under the same lease is not cancelled by the old request.
    let next = TurnId::new();
    a.acquire_lease(s.id, Duration::from_secs(60), Some(next))
        .await
        .unwrap();
    assert!(a.cancel_requests().await.unwrap().is_empty());
    b.request_cancel(s.id, next).await.unwrap();
    assert_eq!(a.cancel_requests().await.unwrap(), [(s.id, next)]);
    // Once the turn has ended, the request is spent.
    a.finish_turn(s.id, next).await.unwrap();
    assert!(a.cancel_requests().await.unwrap().is_empty());
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_is_not_let_go_while_a_turn_is_marked_running_under_it() {
    let (_url, a, b) = two_instances().await;
    let s = a.create_session(contract::session("kept")).await.unwrap();
    let turn = TurnId::new();
    a.acquire_lease(s.id, Duration::from_secs(60), Some(turn))
        .await
        .unwrap();
    // A release racing a turn that took the lease: the turn keeps it.
    a.release_lease(s.id).await.unwrap();
    assert!(matches!(
        b.acquire_lease(s.id, Duration::from_secs(60), None)
            .await
            .unwrap(),
        LeaseOutcome::HeldElsewhere { .. }
    ));
    a.append_messages(
        s.id,
        vec![contract::message(s.id, 1, Role::User, "still a")],
    )
    .await
    .unwrap();
    // Once the turn has ended, the lease goes.
    a.finish_turn(s.id, turn).await.unwrap();
    a.release_lease(s.id).await.unwrap();
    assert!(matches!(
        b.acquire_lease(s.id, Duration::from_secs(60), None)
            .await
            .unwrap(),
        LeaseOutcome::Held { .. }
    ));
    a.close().await;
    b.close().await;
}

/// Housekeeping's singleton: one instance at a time holds it, renews it,
/// and another takes it once it has expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_singleton_is_held_by_one_instance_until_it_expires() {
    let (_url, a, b) = two_instances().await;
    let long = Duration::from_secs(600);
    assert!(a.try_singleton("housekeeping", long).await.unwrap());
    assert!(!b.try_singleton("housekeeping", long).await.unwrap());
    assert!(
        a.try_singleton("housekeeping", long).await.unwrap(),
        "renewed"
    );
    assert!(
        b.try_singleton("other", long).await.unwrap(),
        "names are apart"
    );
    // Renewed for no time: expired as soon as the database's clock moves.
    assert!(
        a.try_singleton("housekeeping", Duration::ZERO)
            .await
            .unwrap()
    );
    let mut taken = false;
    for _ in 0..1000 {
        if b.try_singleton("housekeeping", long).await.unwrap() {
            taken = true;
            break;
        }
    }
    assert!(taken, "the expired singleton is taken over");
    assert!(!a.try_singleton("housekeeping", long).await.unwrap());
    a.close().await;
    b.close().await;
}
