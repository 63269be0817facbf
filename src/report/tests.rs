use super::*;

#[test]
fn durations_read_naturally() {
    assert_eq!(seconds(Duration::from_millis(45)), "45ms");
    assert_eq!(seconds(Duration::from_millis(1234)), "1.23s");
}

#[test]
fn exits_read_naturally() {
    assert_eq!(describe_exit(&Exit::Code(101)), "exit status 101");
    assert_eq!(
        describe_exit(&Exit::Signal(9)),
        "killed by signal 9 (SIGKILL)"
    );
}
