//! Thread placement (which core each thread runs on, its affinity) is
//! replicated process state.

mod common;

use abi::errno::Errno;
use common::*;
use kstate::{Placement, ReadOp, Resp, WriteOp};

fn placement(ks: &KS, tid: u32) -> Result<(u32, Placement), Errno> {
    match query(ks, ReadOp::Placement { tid }) {
        Ok(Resp::Placement(pid, pl)) => Ok((pid, pl)),
        Ok(o) => panic!("{o:?}"),
        Err(e) => Err(e),
    }
}

#[test]
fn placement_follows_threads() {
    let (mut ks, _mem) = fresh(0x10_0000);
    let pid = as_pid(apply(
        &mut ks,
        WriteOp::Spawn {
            parent: 0,
            exe: b"/init".to_vec(),
        },
    ));
    as_unit(apply(
        &mut ks,
        WriteOp::Place {
            pid,
            tid: pid,
            core: 2,
            affinity: 0b1111,
        },
    ));
    assert_eq!(
        placement(&ks, pid),
        Ok((
            pid,
            Placement {
                core: 2,
                affinity: 0b1111
            }
        ))
    );
    let tid = as_pid(apply(&mut ks, WriteOp::NewThread { pid }));
    assert_eq!(placement(&ks, tid), Err(Errno::ESRCH), "not placed yet");
    as_unit(apply(
        &mut ks,
        WriteOp::Place {
            pid,
            tid,
            core: 1,
            affinity: 0b0110,
        },
    ));
    // sched_setaffinity by thread id finds the owner.
    assert_eq!(
        as_pid(apply(
            &mut ks,
            WriteOp::SetAffinity {
                tid,
                affinity: 0b0100
            }
        )),
        pid
    );
    assert_eq!(
        placement(&ks, tid),
        Ok((
            pid,
            Placement {
                core: 1,
                affinity: 0b0100
            }
        ))
    );
    assert_eq!(
        err(apply(
            &mut ks,
            WriteOp::SetAffinity {
                tid: 999,
                affinity: 1
            }
        )),
        Errno::ESRCH
    );
    // Migration.
    as_unit(apply(
        &mut ks,
        WriteOp::Place {
            pid,
            tid,
            core: 2,
            affinity: 0b0100,
        },
    ));
    match query(&ks, ReadOp::Placements) {
        Ok(Resp::Placements(v)) => assert_eq!(
            v,
            vec![
                (
                    pid,
                    pid,
                    Placement {
                        core: 2,
                        affinity: 0b1111
                    }
                ),
                (
                    pid,
                    tid,
                    Placement {
                        core: 2,
                        affinity: 0b0100
                    }
                )
            ]
        ),
        o => panic!("{o:?}"),
    }
    // A thread exits: its placement goes; the hash sees placements.
    let h = ks.state_hash();
    assert_eq!(as_val(apply(&mut ks, WriteOp::ExitThread { pid, tid })), 1);
    assert_ne!(ks.state_hash(), h);
    assert_eq!(placement(&ks, tid), Err(Errno::ESRCH));
    // Fork child placed separately; process exit clears everything.
    let child = as_pid(apply(&mut ks, WriteOp::Fork { parent: pid }));
    as_unit(apply(
        &mut ks,
        WriteOp::Place {
            pid: child,
            tid: child,
            core: 0,
            affinity: 1,
        },
    ));
    assert_eq!(
        placement(&ks, child),
        Ok((
            child,
            Placement {
                core: 0,
                affinity: 1
            }
        ))
    );
    apply(
        &mut ks,
        WriteOp::Exit {
            pid: child,
            status: 0,
        },
    )
    .unwrap();
    assert_eq!(placement(&ks, child), Err(Errno::ESRCH));
    assert_eq!(
        err(apply(
            &mut ks,
            WriteOp::Place {
                pid: child,
                tid: child,
                core: 0,
                affinity: 1
            }
        )),
        Errno::ESRCH
    );
}

#[test]
fn thread_limit_gives_eagain() {
    let (mut ks, _mem) = fresh(0x10_0000);
    let pid = as_pid(apply(
        &mut ks,
        WriteOp::Spawn {
            parent: 0,
            exe: b"/init".to_vec(),
        },
    ));
    for _ in 1..kstate::MAX_TASKS {
        as_pid(apply(&mut ks, WriteOp::NewThread { pid }));
    }
    assert_eq!(
        err(apply(&mut ks, WriteOp::NewThread { pid })),
        Errno::EAGAIN
    );
    assert_eq!(
        err(apply(&mut ks, WriteOp::Fork { parent: pid })),
        Errno::EAGAIN
    );
    assert_eq!(
        err(apply(
            &mut ks,
            WriteOp::Spawn {
                parent: pid,
                exe: vec![]
            }
        )),
        Errno::EAGAIN
    );
    assert_eq!(
        as_val(apply(&mut ks, WriteOp::ExitThread { pid, tid: pid + 1 })),
        u64::from(kstate::MAX_TASKS - 1)
    );
    as_pid(apply(&mut ks, WriteOp::Fork { parent: pid }));
}
