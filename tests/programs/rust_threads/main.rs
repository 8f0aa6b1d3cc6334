//! Rust std threads: Arc<Mutex<_>> counting, channels, and
//! std::process::Command spawning busybox.
use std::process::Command;
use std::sync::{mpsc, Arc, Mutex};
use std::thread;

fn main() {
    let counter = Arc::new(Mutex::new(0u64));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let c = Arc::clone(&counter);
            thread::spawn(move || {
                for _ in 0..10_000 {
                    *c.lock().unwrap() += 1;
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    println!("counter = {}", *counter.lock().unwrap());

    let (tx, rx) = mpsc::channel();
    for id in 0..4u64 {
        let tx = tx.clone();
        thread::spawn(move || {
            for i in 0..100u64 {
                tx.send(id * 1000 + i).unwrap();
            }
        });
    }
    drop(tx);
    let mut got: Vec<u64> = rx.iter().collect();
    got.sort();
    println!("received {} messages, sum {}", got.len(), got.iter().sum::<u64>());

    let out = Command::new("/bin/busybox").args(["echo", "spawned", "busybox"]).output().expect("spawn busybox");
    print!("child said: {}", String::from_utf8_lossy(&out.stdout));
    println!("child status: {}", out.status.code().unwrap_or(-1));
    let st = Command::new("/bin/busybox").args(["sh", "-c", "exit 3"]).status().expect("spawn sh");
    println!("sh exit: {}", st.code().unwrap_or(-1));
}
