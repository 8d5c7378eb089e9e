//! On tokio's paused clock: time moves only when every task waits.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::{sleep, Instant};

use super::io::PacedIo;
use super::*;

const PACE: Pace = Pace {
    idle: Duration::from_secs(30),
    min_rate: 1024,
    grace: Duration::from_secs(5),
};

/// A body fed by the test, one chunk per message; ends when the sender drops.
struct Fed(mpsc::Receiver<Bytes>);

impl Body for Fed {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|c| c.map(|b| Ok(Frame::data(b))))
    }
}

fn fed(pace: Pace) -> (mpsc::Sender<Bytes>, Paced<Fed>) {
    let (tx, rx) = mpsc::channel(1024);
    (tx, Paced::new(Fed(rx), pace))
}

/// Reads the body to its end: the bytes, or the stall and when it came.
async fn drain(mut body: Paced<Fed>) -> Result<u64, (Stalled, Instant)> {
    let mut n = 0;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => n += f.data_ref().map_or(0, |d| d.len() as u64),
            Err(e) => return Err((stalled(&*e).expect("a Stalled").clone(), Instant::now())),
        }
    }
    Ok(n)
}

#[test]
fn the_deadline_is_the_idle_limit_or_what_the_bytes_earned() {
    let t0 = Instant::now();
    let mut m = Meter::new(PACE);
    assert_eq!(m.deadline(), None, "not waiting");
    m.waiting(t0);
    assert_eq!(m.deadline(), Some(t0 + PACE.grace), "grace first");
    // 1 s of the 5 s credit used, then 10 KiB earn 10 s more.
    m.moved(10 * 1024, t0 + Duration::from_secs(1));
    let t1 = t0 + Duration::from_secs(2);
    m.waiting(t1);
    assert_eq!(m.deadline(), Some(t1 + Duration::from_secs(14)));
    assert!(m.check(t1 + Duration::from_secs(13)).is_ok());
    assert!(matches!(
        m.check(t1 + Duration::from_secs(14)),
        Err(Stalled::TooSlow { bytes: 10240, .. })
    ));
    // A burst banks no more than the idle timeout's worth.
    m.moved(100 << 20, t1 + Duration::from_secs(1));
    let t2 = t1 + Duration::from_secs(1);
    m.waiting(t2);
    assert_eq!(m.deadline(), Some(t2 + PACE.idle));
    // With no rate rule, only the idle limit.
    let mut m = Meter::new(Pace {
        min_rate: 0,
        ..PACE
    });
    m.waiting(t0);
    assert_eq!(m.deadline(), Some(t0 + PACE.idle));
    assert_eq!(m.check(t0 + PACE.idle), Err(Stalled::Idle(PACE.idle)));
}

#[tokio::test(start_paused = true)]
async fn a_trickle_of_a_byte_a_second_is_cut_when_the_grace_ends() {
    let (tx, body) = fed(PACE);
    let start = Instant::now();
    tokio::spawn(async move {
        while tx.send(Bytes::from_static(b"x")).await.is_ok() {
            sleep(Duration::from_secs(1)).await;
        }
    });
    let (why, at) = drain(body).await.unwrap_err();
    assert!(matches!(why, Stalled::TooSlow { .. }), "{why}");
    // The grace, plus the millisecond each byte earned.
    let took = at - start;
    assert!(
        took >= PACE.grace && took < PACE.grace + Duration::from_millis(10),
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_fast_burst_does_not_buy_a_long_trickle() {
    let (tx, body) = fed(PACE);
    let start = Instant::now();
    tokio::spawn(async move {
        tx.send(Bytes::from(vec![0u8; 2 << 20])).await.unwrap();
        while tx.send(Bytes::from_static(b"x")).await.is_ok() {
            sleep(Duration::from_secs(1)).await;
        }
    });
    let (why, at) = drain(body).await.unwrap_err();
    assert!(matches!(why, Stalled::TooSlow { .. }), "{why}");
    // The burst banked the idle timeout's worth (30 s); each 1-byte
    // second then earns back only a millisecond.
    assert!(
        at - start > PACE.idle && at - start < PACE.idle + Duration::from_secs(1),
        "{:?}",
        at - start
    );
}

#[tokio::test(start_paused = true)]
async fn silence_is_cut_after_the_idle_timeout() {
    let pace = Pace {
        min_rate: 0,
        ..PACE
    };
    let (tx, body) = fed(pace);
    let start = Instant::now();
    tx.send(Bytes::from_static(b"head")).await.unwrap();
    let (why, at) = drain(body).await.unwrap_err();
    assert_eq!(why, Stalled::Idle(pace.idle));
    assert_eq!(at - start, pace.idle);
    drop(tx);
}

#[tokio::test(start_paused = true)]
async fn a_body_above_the_minimum_rate_is_never_cut() {
    let (tx, body) = fed(PACE);
    // 1.5 KiB/s in bursts a second apart, for a minute.
    tokio::spawn(async move {
        for _ in 0..60 {
            sleep(Duration::from_secs(1)).await;
            tx.send(Bytes::from(vec![0u8; 1536])).await.unwrap();
        }
    });
    assert_eq!(drain(body).await.unwrap(), 60 * 1536);
}

#[tokio::test(start_paused = true)]
async fn time_the_body_is_not_polled_is_not_its_fault() {
    let (tx, mut body) = fed(PACE);
    tx.send(Bytes::from_static(b"a")).await.unwrap();
    assert!(body.frame().await.is_some());
    // The consumer stops polling for a minute (say, Zoho's backpressure).
    sleep(Duration::from_secs(60)).await;
    tx.send(Bytes::from(vec![0u8; 8192])).await.unwrap();
    drop(tx);
    assert_eq!(drain(body).await.unwrap(), 8192);
}

#[tokio::test(start_paused = true)]
async fn the_trip_is_recorded_for_whoever_must_tell_it_apart() {
    let (_tx, body) = fed(PACE);
    let tripped = body.tripped();
    assert!(tripped.get().is_none());
    assert!(drain(body).await.is_err());
    assert!(matches!(
        tripped.get(),
        Some(Stalled::TooSlow { bytes: 0, .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn writes_to_a_peer_that_stops_reading_fail_after_the_pace() {
    let (near, mut far) = tokio::io::duplex(4096);
    let mut io = PacedIo::new(near, PACE);
    let start = Instant::now();
    // The peer reads 8 KiB, then nothing.
    tokio::spawn(async move {
        let mut buf = vec![0u8; 8192];
        far.read_exact(&mut buf).await.unwrap();
        sleep(Duration::from_secs(3600)).await;
        drop(far);
    });
    let err = io.write_all(&vec![0u8; 1 << 20]).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    // 12 KiB moved (4 KiB buffered, 8 KiB read) earn 12 s on top of the
    // 5 s grace.
    assert_eq!(Instant::now() - start, Duration::from_secs(17));
}

#[tokio::test(start_paused = true)]
async fn writes_to_a_peer_that_reads_steadily_go_through() {
    let (near, mut far) = tokio::io::duplex(4096);
    let mut io = PacedIo::new(near, PACE);
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        let mut n = 0;
        loop {
            sleep(Duration::from_secs(1)).await;
            match far.read(&mut buf).await.unwrap() {
                0 => return n,
                k => n += k,
            }
        }
    });
    io.write_all(&vec![0u8; 64 * 1024]).await.unwrap();
    io.shutdown().await.unwrap();
    drop(io);
    assert_eq!(reader.await.unwrap(), 64 * 1024);
}
