//! Telegram's per-chat rate limit, against the local fake Bot API: one
//! message a second per chat, in order, and chats not slowing each other.
//! (The 20-a-minute group limit only bites after ~28 messages at 1/s, too
//! slow for the suite; it is the same governor mechanism.)

use crate::support;

use dozor_server::alerting::telegram::Telegram;
use std::time::{Duration, Instant};
use support::telegram;

fn client(api: &str) -> Telegram {
    Telegram::new("123:TEST", Some(api), reqwest::Client::new()).unwrap()
}

#[tokio::test]
async fn one_message_a_second_per_chat_and_chats_are_independent() {
    let (fake, api) = telegram::start();
    let tg = std::sync::Arc::new(client(&api));
    let start = Instant::now();
    let slow = {
        let tg = tg.clone();
        tokio::spawn(async move {
            for i in 0..3 {
                tg.reply(42, &format!("m{i}")).await.unwrap();
            }
        })
    };
    // Another chat is not held up by chat 42's queue.
    tokio::time::sleep(Duration::from_millis(100)).await;
    tg.reply(43, "other").await.unwrap();
    let other_at = start.elapsed();
    slow.await.unwrap();
    let all = start.elapsed();
    assert!(
        other_at < Duration::from_millis(900),
        "chat 43 waited {other_at:?}"
    );
    assert!(
        all >= Duration::from_millis(1950),
        "3 messages to one chat took {all:?}"
    );
    assert_eq!(fake.delivered(42), ["m0", "m1", "m2"], "in order");
}
