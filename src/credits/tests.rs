use super::*;
use std::time::Duration;

fn route(budget: Option<RouteBudget>, priority: bool) -> RouteCredits {
    RouteCredits {
        price: None,
        budget,
        priority,
    }
}

#[tokio::test(start_paused = true)]
async fn a_route_budget_refuses_the_call_that_would_overspend_until_the_day_rolls() {
    let credits = Credits::new("crm", None);
    let budget = CreditBudget {
        daily: Some(1000),
        reserve: 0,
    };
    let inserts = route(Some(RouteBudget::Fixed(30)), false);
    let other = route(None, false);
    // Three 100-record inserts (10 credits each) fit in 30.
    for _ in 0..3 {
        let mut c = credits
            .reserve(&budget, "inserts", &inserts, None, 10)
            .unwrap();
        c.attempt_sent();
        tokio::time::advance(Duration::from_secs(60)).await;
    }
    let refused = credits
        .reserve(&budget, "inserts", &inserts, None, 10)
        .unwrap_err();
    assert!(
        refused
            .budget
            .contains("route \"inserts\" daily_credits 30"),
        "{refused:?}"
    );
    assert_eq!(refused.spent, 30);
    // The first insert's credits leave 24 h after its minute: 21 h 57 min
    // from now, give or take the minute it fell in.
    let day = Duration::from_secs(24 * 3600);
    assert!(
        refused.retry_after <= day - Duration::from_secs(180) + Duration::from_secs(60)
            && refused.retry_after >= day - Duration::from_secs(240),
        "{:?}",
        refused.retry_after
    );
    // Another route is not affected.
    credits
        .reserve(&budget, "reads", &other, None, 1)
        .unwrap()
        .attempt_sent();
    // After the Retry-After, it passes again.
    tokio::time::advance(refused.retry_after).await;
    credits
        .reserve(&budget, "inserts", &inserts, None, 10)
        .expect("room again after the window rolled")
        .attempt_sent();
    let (total, routes) = credits.usage(&budget, [("inserts", &inserts)]);
    assert_eq!(
        routes[0].1.spent, 30,
        "the first left the window, one came in"
    );
    assert_eq!(total.spent, 31);
}

#[tokio::test(start_paused = true)]
async fn the_reserve_is_for_priority_routes_only() {
    let credits = Credits::new("crm", None);
    let budget = CreditBudget {
        daily: Some(100),
        reserve: 10,
    };
    let normal = route(None, false);
    let urgent = route(None, true);
    credits
        .reserve(&budget, "bulk", &normal, None, 90)
        .unwrap()
        .attempt_sent();
    let e = credits
        .reserve(&budget, "bulk", &normal, None, 1)
        .unwrap_err();
    assert!(e.budget.contains("reserve of 10"), "{e:?}");
    for _ in 0..10 {
        credits
            .reserve(&budget, "urgent", &urgent, None, 1)
            .unwrap()
            .attempt_sent();
    }
    assert!(credits
        .reserve(&budget, "urgent", &urgent, None, 1)
        .is_err());
}

#[tokio::test(start_paused = true)]
async fn a_call_that_never_reached_zoho_costs_nothing_and_replays_cost_again() {
    let credits = Credits::new("crm", None);
    let budget = CreditBudget {
        daily: Some(10),
        reserve: 0,
    };
    let r = route(Some(RouteBudget::Share(0.5)), false);
    assert_eq!(r.limit(&budget), Some(5));
    drop(credits.reserve(&budget, "r", &r, None, 5).unwrap());
    let mut c = credits.reserve(&budget, "r", &r, None, 2).unwrap();
    c.attempt_sent();
    c.attempt_sent(); // a 401 replay
    assert_eq!(c.spent(), 4);
    drop(c);
    let (total, routes) = credits.usage(&budget, [("r", &r)]);
    assert_eq!(total.spent, 4);
    assert_eq!(routes[0].1.remaining, Some(1));
}

#[tokio::test(start_paused = true)]
async fn zohos_numbers_correct_the_estimate_within_the_allowance() {
    let credits = Credits::new("crm", None);
    let budget = CreditBudget {
        daily: Some(1000),
        reserve: 0,
    };
    let r = route(None, false);
    credits
        .reserve(&budget, "r", &r, None, 100)
        .unwrap()
        .attempt_sent();
    let headers = |pairs: &[(&'static str, &str)]| {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    };
    // Others spent too: Zoho has 700 left, so 300 are gone.
    credits.learn(&budget, &headers(&[("x-api-credits-remaining", "700")]));
    assert_eq!(credits.usage(&budget, []).0.spent, 300);
    // Zoho has more left than we thought: we counted too much.
    credits.learn(&budget, &headers(&[("x-api-credits-remaining", "950")]));
    assert_eq!(credits.usage(&budget, []).0.spent, 50);
    // Never above the configured allowance.
    credits.learn(&budget, &headers(&[("x-api-credits-remaining", "5000")]));
    assert_eq!(credits.usage(&budget, []).0.remaining, Some(1000));
    // Books' daily cap at 0: refused until its reset.
    credits.learn(
        &budget,
        &headers(&[
            ("x-rate-limit-limit", "1000"),
            ("x-rate-limit-remaining", "0"),
            ("x-rate-limit-reset", "3600"),
        ]),
    );
    let e = credits.reserve(&budget, "r", &r, None, 1).unwrap_err();
    assert_eq!(e.retry_after, Duration::from_secs(3600));
    // Books' per-minute headers (limit 100) are not the daily cap.
    let books = Credits::new("books", None);
    books.learn(
        &budget,
        &headers(&[
            ("x-rate-limit-limit", "100"),
            ("x-rate-limit-remaining", "3"),
        ]),
    );
    assert_eq!(books.usage(&budget, []).0.spent, 0);
}

#[tokio::test(start_paused = true)]
async fn a_credit_429_spends_the_day() {
    let credits = Credits::new("crm", None);
    let budget = CreditBudget {
        daily: Some(500),
        reserve: 0,
    };
    credits.zoho_exhausted(&budget);
    let e = credits
        .reserve(&budget, "r", &route(None, true), None, 1)
        .unwrap_err();
    assert!(e.retry_after > Duration::from_secs(23 * 3600), "{e:?}");
    assert!(is_credit_429(
        &HeaderMap::new(),
        br#"{"code":45,"message":"You have reached the maximum number of API calls"}"#
    ));
    assert!(is_credit_429(
        &HeaderMap::new(),
        br#"{"code":"TOO_MANY_REQUESTS","message":"API credits exhausted"}"#
    ));
    assert!(!is_credit_429(
        &HeaderMap::new(),
        br#"{"code":"TOO_MANY_REQUESTS","message":"concurrency limit exceeded"}"#
    ));
}

#[tokio::test(start_paused = true)]
async fn the_window_survives_a_restart_through_its_file() {
    let dir = std::env::temp_dir().join(format!("zp-credits-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("t.credits.json");
    let _ = std::fs::remove_file(&file);
    let budget = CreditBudget {
        daily: Some(100),
        reserve: 0,
    };
    let r = route(None, false);
    {
        let credits = Credits::new("crm", Some(file.clone()));
        credits
            .reserve(&budget, "r", &r, None, 42)
            .unwrap()
            .attempt_sent();
        credits.save();
    }
    let again = Credits::new("crm", Some(file.clone()));
    let (total, routes) = again.usage(&budget, [("r", &r)]);
    assert_eq!((total.spent, routes[0].1.spent), (42, 42));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(start_paused = true)]
async fn a_client_budget_holds_across_routes() {
    let credits = Credits::new("crm", None);
    let budget = CreditBudget::default();
    let r = route(None, false);
    for route_name in ["a", "b", "a"] {
        credits
            .reserve(&budget, route_name, &r, Some(("billing", Some(3))), 1)
            .unwrap()
            .attempt_sent();
    }
    let e = credits
        .reserve(&budget, "b", &r, Some(("billing", Some(3))), 1)
        .unwrap_err();
    assert!(
        e.budget.contains("client \"billing\" daily_credits 3"),
        "{e:?}"
    );
    // Another client, and calls without a client, are not affected.
    credits
        .reserve(&budget, "b", &r, Some(("reports", Some(3))), 1)
        .unwrap()
        .attempt_sent();
    credits
        .reserve(&budget, "b", &r, None, 1)
        .unwrap()
        .attempt_sent();
    // A refused-later call (dropped unsent) gives the client's credit back.
    drop(
        credits
            .reserve(&budget, "b", &r, Some(("reports", Some(3))), 1)
            .unwrap(),
    );
    assert_eq!(
        credits.clients_spent(),
        vec![("billing".to_owned(), 3), ("reports".to_owned(), 1)]
    );
}
