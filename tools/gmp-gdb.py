# gmp-gdb.py: gdb commands that show a libgmp program's own threads.
#
# Under libgmp (LD_PRELOAD=libgmp.so) a program's threads are Gs, user-level
# threads multiplexed on a few kernel threads (Ms), so gdb's `info threads`
# and `thread N` see the Ms and the runtime's helper threads, not the
# program's threads. This file adds, in gdb's Python API only:
#
#   info gmp-threads [all]
#       One line per G that has not ended: G id (g.goid), name (from
#       pthread_setname_np, or the process name for the main thread), state,
#       wait reason and, when known, the object waited on (the address of
#       the word in libgmp's address-keyed wait table, with its symbol), the
#       kernel thread id of the M it runs on, how long it has been waiting
#       and the function it started with. '*' marks the G the selected
#       kernel thread is running. `all` lists the runtime's own Gs too.
#
#   gmp-thread N [COMMAND]
#       Run a gdb COMMAND (bt, frame 2, info locals, p errno...) with the
#       registers of G N. A G on an M: the M's kernel thread is selected for
#       the command. A parked G: its saved context (arch_switch's frame on
#       its stack, see arch/x86_64/switch.S) is written into the selected
#       kernel thread's registers (rsp, rip, rbp, rbx, r12-r15), the
#       command runs, and every register written is put back exactly,
#       whatever happens. Frame 0 is then where the G will resume: the
#       instruction after arch_switch's call. With no COMMAND: the G's line
#       of `info gmp-threads`.
#   gmp-thread all COMMAND
#       The same for every G, each under a header.
#
# Load it with `source tools/gmp-gdb.py` at the gdb prompt, or start gdb
# with `gdb -x tools/gmp-gdb.py -p PID`. libgmp.so must have its debug
# information (the default build has -g): the G table is the static `gfree`
# of core/g.c, read through struct g and struct m of core/core.h.
#
# Limits. Parked Gs need a live process: gdb cannot write the registers of
# a core file, so there `gmp-thread N` works only for Gs that were running
# on an M (info gmp-threads works, without waiting times). Commands that
# resume the program are refused while a parked G's registers are
# installed (they would run the G on a borrowed kernel thread). Gs made on
# a stack of the program's own (pthread_attr_setstack) are not in the G
# table and are not listed. Thread-local variables (errno, __thread) are
# found by gdb through libthread_db, which knows kernel threads only: under
# gmp-thread they may show another G's values (a G's TCB is g.tp). Waiting
# times compare the G's CLOCK_MONOTONIC stamp with gdb's own clock: right
# for a process on the same machine, shown only for a native (not remote,
# not core) target. x86_64 only.

import time

import gdb

GCOOKIE = 0x6C6962676D702D67  # "libgmp-g", core/g.c
TCB_GSLOT = 0x38  # core/core.h: the G's slot in the TCB
FRAME_REGS = (  # arch_switch's frame, offsets from the saved sp
    ("r15", 8),
    ("r14", 16),
    ("r13", 24),
    ("r12", 32),
    ("rbx", 40),
    ("rbp", 48),
    ("rip", 56),
)
FRAME_SIZE = 64  # rsp once arch_switch has returned

# Used when libgmp.so's debug information lacks the enums (core/core.h).
GSTATUS_DEFAULT = ["G_IDLE", "G_RUNNABLE", "G_RUNNING", "G_SYSCALL",
                   "G_WAITING", "G_DEAD"]
WAITREASON_DEFAULT = ["WAIT_NONE", "WAIT_MUTEX", "WAIT_COND", "WAIT_SEM",
                      "WAIT_JOIN", "WAIT_ONCE", "WAIT_SLEEP", "WAIT_FUTEX",
                      "WAIT_YIELD", "WAIT_RWLOCK", "WAIT_BARRIER", "WAIT_IO",
                      "WAIT_POLL", "WAIT_SYSTEM"]

# Names libgmp's own G dump uses (core/obs.c) where they differ from the
# enumerator's.
NAME_OVERRIDES = {"WAIT_SEM": "semaphore", "WAIT_SYSTEM": "runtime"}

# gdb commands (and their usual abbreviations) that resume the inferior.
RESUMING = {
    "c", "cont", "continue", "fg", "n", "next", "ni", "nexti", "s", "step",
    "si", "stepi", "fin", "finish", "u", "until", "adv", "advance", "j",
    "jump", "r", "run", "start", "starti", "signal", "queue-signal", "call",
    "reverse-continue", "rc", "reverse-step", "rs", "reverse-next", "rn",
    "reverse-finish", "kill", "detach", "attach", "record",
}


class GmpError(Exception):
    """A user-facing failure: printed without a Python traceback."""


class Runtime:
    """What one command needs from the inferior's libgmp."""

    def __init__(self):
        inf = gdb.selected_inferior()
        if inf is None or inf.pid == 0 or not inf.threads():
            raise GmpError("no process: run or attach to a program "
                           "started with LD_PRELOAD=libgmp.so")
        self.inferior = inf
        sym, objfile = find_gfree()
        self.objfile = objfile
        self.gfree = sym.value()
        block = None
        if sym.symtab is not None:
            block = sym.symtab.static_block()
        self.gstatus = enum_names("enum gstatus", block, "G_",
                                  GSTATUS_DEFAULT)
        self.reasons = enum_names("enum waitreason", block, "WAIT_",
                                  WAITREASON_DEFAULT)
        self.status_of = {name: i for i, name in enumerate(self.gstatus)}
        self.void_p = gdb.lookup_type("void").pointer()
        self.pds = None
        self.warned = False
        try:
            self.target = inf.connection.type
        except (AttributeError, gdb.error):
            self.target = "native"

    def allg(self):
        """Every G in the table (g.alllink), newest first."""
        gs, seen = [], set()
        gp = self.gfree["allg"]
        while int(gp) != 0:
            addr = int(gp)
            if addr in seen or len(gs) > 1000000:
                raise GmpError("the G table is corrupt (a loop at 0x%x)"
                               % addr)
            seen.add(addr)
            g = gp.dereference()
            if int(g["goid"]) == 0:
                # goids start at 1: this memory was not saved (gcore loses
                # the stack chunks on kernels with guard regions, >= 6.13)
                if not self.warned:
                    gdb.write("warning: the G at 0x%x reads as zeros: the "
                              "G table is incomplete (its memory is "
                              "missing from this core file?)\n" % addr)
                    self.warned = True
                break
            gs.append(g)
            gp = g["alllink"]
        return gs

    def status(self, g):
        return int(g["status"])

    def is_dead(self, g):
        return self.status(g) == self.status_of.get("dead", 5)

    def live(self, show_system):
        gs = [g for g in self.allg() if not self.is_dead(g)
              and (show_system or not bool(g["is_system"]))]
        gs.sort(key=lambda g: int(g["goid"]))
        return gs

    def find(self, goid):
        for g in self.allg():
            if int(g["goid"]) == goid:
                if self.is_dead(g):
                    raise GmpError("G %d has exited" % goid)
                return g
        raise GmpError("no G %d (see info gmp-threads)" % goid)

    def fd_of(self, addr):
        """'fd N (read)' when addr is a poll descriptor's word (a wait in
        the netpoller, core/netpoll.c), else None."""
        if self.pds is None:
            self.pds = []
            try:
                sym = self.objfile.lookup_static_symbol("pd_dir")
                pdt = sym.type.strip_typedefs().target().target()
                pdt = pdt.strip_typedefs()
                n = sym.type.sizeof // 8
                raw = self.inferior.read_memory(
                    int(sym.value().address), n * 8).tobytes()
                self.pdsize = pdt.sizeof
                self.pdfield = {f.bitpos // 8: f.name for f in pdt.fields()}
                for i in range(n):
                    c = int.from_bytes(raw[i * 8:i * 8 + 8], "little")
                    if c:
                        self.pds.append((c, i))
                # fds per chunk: PD_MAXFD (2^20) over the directory's size
                self.pdchunk = (1 << 20) // n
            except (gdb.error, gdb.MemoryError, AttributeError):
                self.pds = []
        for c, i in self.pds:
            off = addr - c
            if 0 <= off < self.pdchunk * self.pdsize:
                fd = i * self.pdchunk + off // self.pdsize
                what = {"rseq": " (read)", "wseq": " (write)"}.get(
                    self.pdfield.get(off % self.pdsize), "")
                return "fd %d%s" % (fd, what)
        return None

    def current_g(self):
        """The G whose TCB the selected kernel thread has: 0 if none."""
        try:
            tp = int(gdb.parse_and_eval("$fs_base"))
            raw = self.inferior.read_memory(tp + TCB_GSLOT, 16).tobytes()
        except (gdb.error, gdb.MemoryError):
            return 0
        gp = int.from_bytes(raw[:8], "little")
        check = int.from_bytes(raw[8:], "little")
        if gp == 0 or gp ^ GCOOKIE != check:
            return 0
        return gp


def find_gfree():
    """The static `gfree` of libgmp's core/g.c, and its objfile."""
    named = []
    for objfile in gdb.objfiles():
        name = (objfile.filename or "").rsplit("/", 1)[-1]
        if name.startswith("libgmp"):
            named.append(objfile)
        try:
            sym = objfile.lookup_static_symbol("gfree")
        except (gdb.error, AttributeError):
            continue
        if sym is None:
            continue
        t = sym.type.strip_typedefs()
        if t.code == gdb.TYPE_CODE_STRUCT and "allg" in [
                f.name for f in t.fields()]:
            return sym, objfile
    if not named:
        raise GmpError("libgmp is not loaded in this process "
                       "(start it with LD_PRELOAD=libgmp.so)")
    raise GmpError("%s has no debug information for its G table "
                   "(build libgmp with -g, the default)"
                   % named[0].filename)


def enum_names(tname, block, prefix, default):
    """Enumerator names by value, lower case, without prefix."""
    names = list(default)
    try:
        t = gdb.lookup_type(tname, block) if block else gdb.lookup_type(tname)
        vals = {int(f.enumval): f.name for f in t.fields()}
        if vals:
            names = [vals.get(i, "?%d" % i) for i in range(max(vals) + 1)]
    except gdb.error:
        pass
    return [NAME_OVERRIDES.get(n) or (n[len(prefix):].lower()
                                      if n.startswith(prefix) else n.lower())
            for n in names]


def cstring(arr):
    raw = bytes(int(arr[i]) & 0xFF for i in range(arr.type.sizeof))
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def symbol_at(pc):
    """The function at pc, by name, for a G's start function."""
    if pc == 0:
        return "-"
    try:
        block = gdb.block_for_pc(pc)
        if block is not None and block.function is not None:
            return block.function.print_name
    except RuntimeError:
        pass
    try:
        out = gdb.execute("info symbol 0x%x" % pc, to_string=True).strip()
        if out and not out.startswith("No symbol"):
            return out.split(" in section ", 1)[0]
    except gdb.error:
        pass
    return "0x%x" % pc


def duration(ns):
    s = ns / 1e9
    if s < 1:
        return "%dms" % int(s * 1000)
    if s < 60:
        return "%.1fs" % s
    if s < 3600:
        return "%dm%02ds" % (s // 60, s % 60)
    return "%dh%02dm" % (s // 3600, s % 3600 // 60)


class Row:
    """The fields of one G as `info gmp-threads` shows them."""

    def __init__(self, rt, g, now, joinwords):
        st = rt.status(g)
        self.state = (rt.gstatus[st] if 0 <= st < len(rt.gstatus)
                      else "?%d" % st)
        self.goid = int(g["goid"])
        self.name = cstring(g["name"])
        addr = int(g["w"]["addr"])
        own_sleep = addr != 0 and addr == int(g["sleepword"].address)
        self.reason, self.obj, self.waited = "-", "", "-"
        if self.state == "waiting":
            why = int(g["waitreason"])
            self.reason = (rt.reasons[why] if 0 <= why < len(rt.reasons)
                           else "?%d" % why)
            # a sleep is a wait on the G's own sleepword (core/sema.c),
            # whatever reason the shim that parked it gave
            if own_sleep:
                self.reason = "sleep"
            elif addr in joinwords:
                self.obj = "G %d" % joinwords[addr]
            elif addr != 0:
                v = gdb.Value(addr).cast(rt.void_p)
                self.obj = v.format_string(symbols=True)
                if self.reason in ("io", "poll"):
                    self.obj = rt.fd_of(addr) or self.obj
            parked = int(g["parked_at"])
            if parked > 0 and now is not None and now >= parked:
                self.waited = duration(now - parked)
            tm = g["timer"]
            if (int(tm["idx"]) >= 0 and now is not None
                    and int(tm["gen"]) == int(g["waitgen"])):
                left = int(tm["when"]) - now
                wake = ("timeout in " if not own_sleep else "wakes in ")
                self.obj = (self.obj + " " if self.obj else "") + (
                    wake + duration(max(left, 0)))
        elif self.state == "syscall" and bool(g["glibc_wait"]):
            self.reason = "glibc"
        mp = g["m"]
        self.m = str(int(mp["tid"])) if int(mp) != 0 else "-"
        if bool(g["is_main"]):
            self.start = "(main thread)"
        elif bool(g["is_system"]):
            self.start = "(libgmp) " + symbol_at(int(g["start"]))
        else:
            self.start = symbol_at(int(g["start"]))


HEADER = ("  %-5s %-16s %-9s %-8s %-8s %-8s %-24s %s"
          % ("Id", "Name", "State", "Reason", "M", "Waited", "Start",
             "Waiting on"))


def row_line(r, mark):
    return ("%s %-5d %-16s %-9s %-8s %-8s %-8s %-24s %s"
            % ("*" if mark else " ", r.goid, r.name or "-", r.state,
               r.reason, r.m, r.waited, r.start, r.obj)).rstrip()


def rows(rt, gs):
    now = None
    if rt.target == "native":
        now = int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1e9)
    joinwords = {int(g["joinword"].address): int(g["goid"])
                 for g in rt.allg()}
    return [Row(rt, g, now, joinwords) for g in gs]


def report(fn):
    """Run a command body, printing GmpError without a traceback."""
    try:
        fn()
    except GmpError as e:
        raise gdb.GdbError(str(e))
    except gdb.MemoryError as e:
        raise gdb.GdbError("cannot read libgmp's state: %s" % e)
    except gdb.error as e:
        raise gdb.GdbError(str(e))


class InfoGmpThreads(gdb.Command):
    """List libgmp's user-level threads (Gs) of the program.

Usage: info gmp-threads [all]
One line per G that has not ended: id, name, state, wait reason, the M
(kernel thread id) running it, how long it has waited, its start function
and the object it waits on. '*' marks the G of the selected kernel thread.
`all` includes the runtime's own Gs. See gmp-thread N CMD."""

    def __init__(self):
        super().__init__("info gmp-threads", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        args = gdb.string_to_argv(arg)
        if args not in ([], ["all"]):
            raise gdb.GdbError("usage: info gmp-threads [all]")
        report(lambda: self.show(args == ["all"]))

    def show(self, show_system):
        rt = Runtime()
        gs = rt.live(show_system)
        cur = rt.current_g()
        gdb.write(HEADER + "\n")
        for g, r in zip(gs, rows(rt, gs)):
            gdb.write(row_line(r, int(g.address) == cur) + "\n")


class GmpThread(gdb.Command):
    """Run a gdb command as libgmp's user-level thread (G) N.

Usage: gmp-thread N [COMMAND]   e.g. gmp-thread 3 bt, gmp-thread 3 frame 2
       gmp-thread all COMMAND
A G running on an M: COMMAND runs with that M's kernel thread selected. A
parked G: its saved registers are installed in the selected kernel thread
for COMMAND, and the thread's own registers put back after it (live
processes only; commands that resume the program are refused). Without
COMMAND, prints the G's line of info gmp-threads."""

    def __init__(self):
        super().__init__("gmp-thread", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        parts = arg.strip().split(None, 1)
        if not parts:
            raise gdb.GdbError("usage: gmp-thread N [COMMAND] | "
                               "gmp-thread all COMMAND")
        cmd = parts[1] if len(parts) > 1 else ""
        if parts[0] == "all":
            if not cmd:
                raise gdb.GdbError("usage: gmp-thread all COMMAND")
            if cmd.split(None, 1)[0] in RESUMING:
                raise gdb.GdbError("gmp-thread all: '%s' resumes the "
                                   "program; refused" % cmd.split()[0])
            report(lambda: self.all(cmd, from_tty))
            return
        try:
            goid = int(parts[0], 0)
        except ValueError:
            raise gdb.GdbError("gmp-thread: %r is not a G id" % parts[0])
        report(lambda: self.one(goid, cmd, from_tty))

    def one(self, goid, cmd, from_tty):
        rt = Runtime()
        g = rt.find(goid)
        if not cmd:
            r = rows(rt, [g])[0]
            gdb.write(HEADER + "\n" + row_line(
                r, int(g.address) == rt.current_g()) + "\n")
            return
        run_as(rt, g, cmd, from_tty)

    def all(self, cmd, from_tty):
        rt = Runtime()
        for g in rt.live(False):
            gdb.write("\nG %d \"%s\":\n" % (int(g["goid"]),
                                            cstring(g["name"])))
            try:
                run_as(rt, g, cmd, from_tty)
            except (GmpError, gdb.error) as e:
                gdb.write("  %s\n" % e)


def thread_of_tid(rt, tid):
    for t in rt.inferior.threads():
        if t.ptid[1] == tid:
            return t
    return None


def run_as(rt, g, cmd, from_tty):
    goid = int(g["goid"])
    sp = int(g["ctx"]["sp"])
    if sp == 0:
        # on an M: its kernel thread has the registers
        mp = g["m"]
        if int(mp) == 0:
            raise GmpError("G %d is neither parked nor on an M "
                           "(caught mid-switch?)" % goid)
        tid = int(mp["tid"])
        t = thread_of_tid(rt, tid)
        if t is None:
            raise GmpError("G %d runs on M tid %d, which gdb does not "
                           "list as a thread" % (goid, tid))
        with kept_selection():
            t.switch()
            gdb.execute(cmd, from_tty)
        return
    first = cmd.split(None, 1)[0]
    if first in RESUMING:
        raise GmpError("gmp-thread: G %d is parked: '%s' would resume "
                       "the program with borrowed registers; refused"
                       % (goid, first))
    if rt.target == "core":
        raise GmpError("G %d is parked: gdb cannot install its registers "
                       "in a core file (only Gs running on an M can be "
                       "examined there); saved pc 0x%x, sp 0x%x"
                       % (goid, read_word(rt, sp + 56), sp + FRAME_SIZE))
    t = gdb.selected_thread()
    if t is None:
        raise GmpError("no thread selected")
    if not t.is_stopped():
        raise GmpError("the selected thread is running: interrupt it "
                       "first")
    regs = {name: read_word(rt, sp + off) for name, off in FRAME_REGS}
    regs["rsp"] = sp + FRAME_SIZE
    with kept_selection():
        gdb.newest_frame().select()
        saved = {}
        try:
            for name in ("rsp", "rip", "rbp", "rbx", "r12", "r13", "r14",
                         "r15"):
                old = reg_value(name)
                try:
                    set_reg(name, regs[name])
                except gdb.error as e:
                    raise GmpError("cannot set $%s of thread %d: %s"
                                   % (name, t.num, e))
                saved[name] = old
            gdb.execute(cmd, from_tty)
        finally:
            restore(t, saved)


def read_word(rt, addr):
    raw = rt.inferior.read_memory(addr, 8).tobytes()
    return int.from_bytes(raw, "little")


def reg_value(name):
    v = gdb.newest_frame().read_register(name)
    return int(v.cast(gdb.lookup_type("unsigned long")))


def set_reg(name, value):
    gdb.execute("set $%s = (long)0x%x" % (name, value), to_string=True)


def restore(t, saved):
    """Put back every register the borrowed thread had, in reverse."""
    if not saved:
        return
    failed = []
    cur = gdb.selected_thread()
    if cur is None or cur.num != t.num:
        t.switch()
    gdb.newest_frame().select()
    for name in reversed(list(saved)):
        try:
            set_reg(name, saved[name])
        except gdb.error:
            failed.append(name)
    for name, value in saved.items():
        try:
            if reg_value(name) != value:
                failed.append(name)
        except gdb.error:
            failed.append(name)
    if failed:
        raise gdb.GdbError(
            "gmp-thread: could not restore $%s of thread %d; they were: %s"
            % (", $".join(sorted(set(failed))), t.num,
               ", ".join("%s=0x%x" % (n, v) for n, v in saved.items())))


class kept_selection:
    """Reselect the thread and frame that were selected before."""

    def __enter__(self):
        self.thread = gdb.selected_thread()
        self.level = 0
        try:
            f = gdb.selected_frame()
            while f is not None and f.newer() is not None:
                f = f.newer()
                self.level += 1
        except gdb.error:
            pass
        return self

    def __exit__(self, *exc):
        try:
            if self.thread is not None and self.thread.is_valid():
                self.thread.switch()
                f = gdb.newest_frame()
                for _ in range(self.level):
                    if f.older() is None:
                        break
                    f = f.older()
                f.select()
        except gdb.error:
            pass
        return False


InfoGmpThreads()
GmpThread()
