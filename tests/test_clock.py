from pysystem.clock import Timer, VirtualClock


def test_time_follows_instruction_count():
    c = VirtualClock(shift=3)
    c.advance(1000)
    assert c.now() == 8000


def test_timers_fire_in_deadline_order_and_ties_by_creation():
    c = VirtualClock(shift=0)
    fired = []
    a = Timer(c, lambda: fired.append("a"))
    b = Timer(c, lambda: fired.append("b"))
    d = Timer(c, lambda: fired.append("d"))
    d.mod(50)
    b.mod(100)
    a.mod(100)
    assert c.insns_until_deadline(1 << 20) == 50
    c.advance(60)
    c.run_timers()
    assert fired == ["d"]
    c.advance(40)
    c.run_timers()
    assert fired == ["d", "a", "b"]


def test_cancel_and_rearm():
    c = VirtualClock(shift=0)
    fired = []
    t = Timer(c, lambda: fired.append(c.now()))
    t.mod(10)
    t.cancel()
    t.mod(20)
    c.advance(30)
    c.run_timers()
    assert fired == [30]
    assert not t.pending


def test_idle_warp_jumps_to_deadline():
    c = VirtualClock(shift=2)
    t = Timer(c, lambda: None)
    c.advance(10)
    t.mod(1_000_000)
    assert c.warp_to_next_deadline()
    assert c.now() == 1_000_000
    c.run_timers()
    assert not c.warp_to_next_deadline()


def test_rtc_base_fixed_date():
    c = VirtualClock()
    c.set_rtc_base("2020-01-02T03:04:05")
    assert c.wall_ns() == 1577934245 * 10**9
