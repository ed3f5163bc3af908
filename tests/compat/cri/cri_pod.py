#!/usr/bin/python3
"""A Kubernetes pod through containerd's CRI plugin, as the kubelet drives it.

Our own CRI v1 client (gRPC over containerd's socket, the messages of
api.proto beside this file) runs pods under the `runvm` RuntimeClass
handler and checks what issue 12 asks of them:

  RunPodSandbox -> CreateContainer x2 -> StartContainer x2; the pod's
  address from CNI is the guest's eth0;
  the two containers talk over 127.0.0.1 and see one hostname; a
  container's memory limit is its cgroup's in the guest;
  ExecSync exit codes and output, StopContainer's grace period and
  ContainerStatus exit codes (143 from a TERM trap, 137 after the grace
  period, 3 from a container that exits by itself, 4 from one with a
  terminal, whose stdout is a pty);
  exactly one QEMU for the pod, whatever its containers do (runvm ran it:
  the guest's own kernel);
  a second pod gets a VM of its own, its own hostname and loopback;
  StopPodSandbox kills a container still running (137), and with
  RemovePodSandbox leaves no QEMU, shim, relay, mount or socket behind.

Process, mount and socket checks look for `--match` (the suite's private
dir, which every runvm command line and state path contains).

usage: cri_pod.py --gen DIR --socket SOCK --handler runvm --image REF
                  --log-dir DIR --match STR --runvm PATH --state-root DIR
Exit status 0 when every check passed; otherwise the first failure is
printed as `FAIL <what>: ...` and the status is 1.
"""

import argparse
import os
import stat
import sys
import time

ARGS = None
pb = None
rt = None
img = None


class CheckFailed(Exception):
    pass


def step(msg):
    print(f"cri: {msg}", flush=True)


def expect(cond, what, detail=""):
    if not cond:
        raise CheckFailed(f"{what}{': ' + detail if detail else ''}")


def expect_eq(got, want, what):
    expect(got == want, what, f"got {got!r}, want {want!r}")


def generate(gen_dir):
    """Generates api_pb2 from api.proto into gen_dir (never committed)."""
    from grpc_tools import protoc
    here = os.path.dirname(os.path.abspath(__file__))
    rc = protoc.main(["protoc", f"-I{here}", f"--python_out={gen_dir}",
                      f"--grpc_python_out={gen_dir}", os.path.join(here, "api.proto")])
    if rc != 0:
        sys.exit(f"FAIL grpc_tools.protoc api.proto: exit {rc}")
    sys.path.insert(0, gen_dir)


# --- host-side observations -------------------------------------------------

def cmdlines():
    """(pid, argv) of every process on the host."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        if argv:
            out.append((int(d), argv))
    return out


def ours(kind):
    """This suite's processes of one kind: qemu, shim, runvm (any runvm
    command) or relay (a member's: a child of `runvm create`)."""
    found = []
    for pid, argv in cmdlines():
        line = " ".join(argv)
        if ARGS.match not in line:
            continue
        exe = os.path.basename(argv[0])
        if ((kind == "qemu" and exe.startswith("qemu-system")) or
                (kind == "shim" and exe == "runvm-shim") or
                (kind == "runvm" and argv[0] == ARGS.runvm) or
                (kind == "relay" and argv[0] == ARGS.runvm and "create" in argv)):
            found.append(f"{pid} {line[:160]}")
    return found


def our_mounts():
    """Mounts under the suite's dir: runvm's (the members' binds into the
    pod share) and containerd's (rootfs overlays, the pod's /dev/shm), which
    it can only unmount once runvm let go of them."""
    with open("/proc/self/mounts") as f:
        return [m for m in (line.split()[1] for line in f) if m.startswith(ARGS.match)]


def our_sockets():
    """Unix sockets left under runvm's state root (shim.sock, vsock...)."""
    left = []
    for d, _, files in os.walk(ARGS.state_root):
        for n in files:
            p = os.path.join(d, n)
            try:
                if stat.S_ISSOCK(os.lstat(p).st_mode):
                    left.append(p)
            except OSError:
                pass
    return left


# --- the CRI calls ------------------------------------------------------------

def pod_config(name, hostname):
    NS = pb.NamespaceOption
    return pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=name, uid=f"rvc-uid-{name}", namespace="default"),
        hostname=hostname,
        log_directory=ARGS.log_dir,
        linux=pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(
            namespace_options=NS(network=pb.POD, pid=pb.CONTAINER, ipc=pb.POD))),
    )


def container_config(name, script, memory=0, tty=False):
    return pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name=name),
        tty=tty,
        image=pb.ImageSpec(image=ARGS.image),
        command=["sh", "-c", script],
        log_path=f"{name}.log",
        linux=pb.LinuxContainerConfig(
            resources=pb.LinuxContainerResources(memory_limit_in_bytes=memory),
            security_context=pb.LinuxContainerSecurityContext(
            namespace_options=pb.NamespaceOption(network=pb.POD, pid=pb.CONTAINER, ipc=pb.POD))),
    )


def exec_sync(cid, cmd, timeout=20):
    r = rt.ExecSync(pb.ExecSyncRequest(container_id=cid, cmd=cmd, timeout=timeout),
                    timeout=timeout + 30)
    return r.exit_code, r.stdout.decode(), r.stderr.decode()


def status(cid):
    return rt.ContainerStatus(pb.ContainerStatusRequest(container_id=cid), timeout=30).status


def wait_state(cid, state, secs=30):
    deadline = time.monotonic() + secs
    while True:
        s = status(cid)
        if s.state == state:
            return s
        if time.monotonic() > deadline:
            raise CheckFailed(f"container {s.metadata.name}: state "
                              f"{pb.ContainerState.Name(s.state)}, want "
                              f"{pb.ContainerState.Name(state)} ({s.reason} {s.message})")
        time.sleep(0.2)


def log_of(name):
    try:
        with open(os.path.join(ARGS.log_dir, f"{name}.log")) as f:
            return f.read()
    except OSError as e:
        return f"(no log: {e})"


# The server keeps its pod's hostname in a file it serves over loopback; on
# TERM it stops httpd and exits 143, as a well-behaved workload does.
SERVER = ("mkdir -p /www; hostname > /www/host; uname -r > /www/kernel; "
          "httpd -f -p 127.0.0.1:8080 -h /www & "
          "trap 'kill $!; echo got TERM; exit 143' TERM; echo serving; wait")
# The client ignores TERM: StopContainer must SIGKILL it after the grace period.
CLIENT = "trap '' TERM; echo idle; while :; do sleep 1; done"


def scenario(sandbox_ids):
    v = rt.Version(pb.VersionRequest(version="v1"), timeout=10)
    step(f"runtime {v.runtime_name} {v.runtime_version}, CRI {v.runtime_api_version}")
    image = img.ImageStatus(pb.ImageStatusRequest(image=pb.ImageSpec(image=ARGS.image)),
                            timeout=10).image
    expect(image.id != "", "ImageStatus: the imported image is known to the CRI plugin",
           ARGS.image)

    def start_pod(name, hostname):
        cfg = pod_config(name, hostname)
        t0 = time.monotonic()
        pod = rt.RunPodSandbox(pb.RunPodSandboxRequest(config=cfg, runtime_handler=ARGS.handler),
                               timeout=120).pod_sandbox_id
        sandbox_ids.append(pod)
        step(f"RunPodSandbox {name} {pod[:12]} ({time.monotonic() - t0:.1f}s)")
        ps = rt.PodSandboxStatus(pb.PodSandboxStatusRequest(pod_sandbox_id=pod),
                                 timeout=30).status
        expect_eq(pb.PodSandboxState.Name(ps.state), "SANDBOX_READY", "PodSandboxStatus state")
        expect_eq(ps.runtime_handler, ARGS.handler, "PodSandboxStatus runtime_handler")
        return pod, cfg, ps

    def run(pod, cfg, name, script, memory=0, tty=False):
        t0 = time.monotonic()
        cid = rt.CreateContainer(pb.CreateContainerRequest(
            pod_sandbox_id=pod, config=container_config(name, script, memory, tty),
            sandbox_config=cfg),
            timeout=120).container_id
        rt.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=120)
        step(f"CreateContainer+StartContainer {name} {cid[:12]} ({time.monotonic() - t0:.1f}s)")
        return cid

    def remove_pod(pod):  # StopPodSandbox again is a no-op, as for the kubelet
        rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod), timeout=120)
        rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=120)
        sandbox_ids.remove(pod)

    def qemus_settle(want):
        """This suite's QEMUs once their number is `want` (a VM's end is
        asynchronous to the CRI call that stopped it), bounded."""
        deadline = time.monotonic() + 15
        while len(ours("qemu")) - before != want and time.monotonic() < deadline:
            time.sleep(0.2)
        return len(ours("qemu")) - before

    before = len(ours("qemu"))
    pod, cfg, ps = start_pod("web", "rvc-pod")
    ids = {"server": run(pod, cfg, "server", SERVER),
           "client": run(pod, cfg, "client", CLIENT, memory=96 << 20)}
    for name in ids:
        wait_state(ids[name], pb.CONTAINER_RUNNING)

    qemus = ours("qemu")
    expect_eq(len(qemus) - before, 1, "QEMU processes for a pod of a sandbox and 2 containers"
              f" (found: {qemus})")
    # What the pod holds on the host while it runs, so that "nothing left"
    # below looks for things that were there: the sandbox's shim, a relay
    # per member (`runvm create`'s child), the members' binds into the pod
    # share, the shim's sockets.
    expect_eq(len(ours("shim")), 1, f"runvm-shim processes ({ours('shim')})")
    expect_eq(len(ours("relay")), 2, f"member relays ({ours('relay')})")
    binds = [m for m in our_mounts() if m.startswith(ARGS.state_root)]
    expect(len(binds) >= 2, "the members' rootfs binds under runvm's root", repr(our_mounts()))
    expect(our_sockets(), "the sandbox shim's sockets under runvm's root")
    step(f"on the host: {len(qemus)} QEMU, 1 shim, 2 relays, {len(our_mounts())} mounts")

    # runvm ran them: the guest's kernel, not the host's.
    rc, kernel, err = exec_sync(ids["client"], ["uname", "-r"])
    expect_eq(rc, 0, f"ExecSync uname -r exit code (stderr {err!r})")
    kernel = kernel.strip()
    expect(kernel != os.uname().release and kernel.endswith("-runvm"),
           "the containers run on runvm's guest kernel", f"uname -r in the pod: {kernel!r}, "
           f"host: {os.uname().release!r}")

    # The pod's network: the address CNI gave the pod's namespace is the
    # guest's eth0 (the VM took the namespace over).
    expect(ps.network.ip != "", "PodSandboxStatus has the pod IP CNI gave")
    rc, addrs, _ = exec_sync(ids["client"], ["ip", "-o", "-4", "addr", "show", "dev", "eth0"])
    expect(f"inet {ps.network.ip}/" in addrs, "the pod IP from CNI is the guest's eth0",
           f"pod IP {ps.network.ip}, eth0: {addrs!r}")

    # Localhost between the containers: the client fetches what the server
    # wrote, over 127.0.0.1 (httpd needs a moment to listen: bounded wait).
    deadline = time.monotonic() + 20
    while True:
        rc, served, err = exec_sync(ids["client"],
                                    ["wget", "-qO-", "http://127.0.0.1:8080/host"])
        if rc == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    expect_eq(rc, 0, f"client's wget http://127.0.0.1:8080/host exit code (stderr {err!r}, "
              f"server log {log_of('server')!r})")
    rc, own, _ = exec_sync(ids["client"], ["hostname"])
    expect_eq(served.strip(), "rvc-pod", "server's hostname, fetched over 127.0.0.1")
    expect_eq(own.strip(), "rvc-pod", "client's hostname")
    rc, kernel2, _ = exec_sync(ids["client"], ["wget", "-qO-", "http://127.0.0.1:8080/kernel"])
    expect_eq(kernel2.strip(), kernel, "the server's kernel is the client's (one VM)")
    step(f"127.0.0.1 between the containers; one hostname {own.strip()!r}; kernel {kernel}")

    # A second pod gets a VM of its own, with its own hostname and loopback
    # (the first pod's server is not on its 127.0.0.1).
    pod2, cfg2, _ = start_pod("web2", "rvc-pod2")
    other = run(pod2, cfg2, "other", CLIENT)
    wait_state(other, pb.CONTAINER_RUNNING)
    expect_eq(len(ours("qemu")) - before, 2, f"QEMU processes for two pods ({ours('qemu')})")
    rc, host2, _ = exec_sync(other, ["hostname"])
    expect_eq(host2.strip(), "rvc-pod2", "the second pod's hostname")
    rc, _, _ = exec_sync(other, ["wget", "-T", "3", "-qO-", "http://127.0.0.1:8080/host"])
    expect(rc != 0, "the first pod's server is not on the second pod's 127.0.0.1")
    # StopPodSandbox must kill what still runs in the pod.
    t0 = time.monotonic()
    rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod2), timeout=120)
    took = time.monotonic() - t0
    s = status(other)
    expect_eq((pb.ContainerState.Name(s.state), s.exit_code), ("CONTAINER_EXITED", 137),
              "a container still running when its pod is stopped: state, exit code")
    remove_pod(pod2)
    expect_eq(qemus_settle(1), 1, "QEMU processes once the second pod is removed")
    step(f"a second pod: its own VM and hostname; removed running ({took:.1f}s)")

    # A container's memory limit bounds its own cgroup in the guest (the VM
    # is the pod's, sized once).
    rc, limit, err = exec_sync(ids["client"], ["cat", "/sys/fs/cgroup/memory.max"])
    expect_eq((rc, limit.strip()), (0, str(96 << 20)),
              f"client's memory.max in the guest (its 96 MiB limit; stderr {err!r})")

    # ExecSync's exit code and output streams.
    rc, out, err = exec_sync(ids["server"], ["sh", "-c", "echo out; echo err >&2; exit 7"])
    expect_eq((rc, out, err), (7, "out\n", "err\n"), "ExecSync exit code, stdout, stderr")

    # StopContainer: TERM, then KILL after the grace period.
    t0 = time.monotonic()
    rt.StopContainer(pb.StopContainerRequest(container_id=ids["server"], timeout=10), timeout=60)
    took = time.monotonic() - t0
    s = wait_state(ids["server"], pb.CONTAINER_EXITED)
    expect_eq(s.exit_code, 143, f"server's exit code after TERM (log {log_of('server')!r})")
    expect(took < 8, "a container that handles TERM stops before its grace period",
           f"{took:.1f}s of 10s")
    expect("got TERM" in log_of("server"), "server's log shows its TERM trap",
           repr(log_of("server")))
    t0 = time.monotonic()
    rt.StopContainer(pb.StopContainerRequest(container_id=ids["client"], timeout=2), timeout=60)
    took = time.monotonic() - t0
    s = wait_state(ids["client"], pb.CONTAINER_EXITED)
    expect_eq(s.exit_code, 137, "client's exit code (ignores TERM: killed after the grace period)")
    expect(2 <= took < 15, "StopContainer waited out the 2 s grace period, then killed",
           f"{took:.1f}s")
    expect_eq(len(ours("qemu")) - before, 1, "the pod's VM outlives its stopped containers")
    step(f"StopContainer: 143 after TERM, 137 after the 2 s grace period ({took:.1f}s)")

    # A container that exits by itself, started in the running pod after the
    # others stopped: its own exit code. (containerd's runc shim then sends
    # `kill --all` to the exited container: see runvm-kill(8).)
    ids["job"] = run(pod, cfg, "job", "exit 3")
    s = wait_state(ids["job"], pb.CONTAINER_EXITED)
    expect_eq((s.exit_code, s.reason), (3, "Error"), "job's exit code and reason")
    # A container with a terminal (`kubectl run -t`): its pty comes through
    # the console socket of containerd's shim.
    ids["tty"] = run(pod, cfg, "tty", "tty; exit 4", tty=True)
    s = wait_state(ids["tty"], pb.CONTAINER_EXITED)
    expect_eq(s.exit_code, 4, f"tty's exit code (log {log_of('tty')!r})")
    expect("/dev/pts/" in log_of("tty"), "a tty container's stdout is a pty", repr(log_of("tty")))
    expect_eq(len(ours("qemu")) - before, 1, "QEMU processes after 4 containers in the pod")
    for name in ids:
        rt.RemoveContainer(pb.RemoveContainerRequest(container_id=ids[name]), timeout=60)
    remove_pod(pod)
    step("job exited 3, tty 4 on a pty; RemoveContainer, StopPodSandbox, RemovePodSandbox")

    # The runc v2 shim reaps asynchronously: bounded wait for the last exits.
    deadline = time.monotonic() + 15
    while True:
        left = {"QEMU": ours("qemu"), "runvm-shim": ours("shim"), "relay or runvm": ours("runvm"),
                "mount": our_mounts(), "socket": our_sockets()}
        left = {k: v for k, v in left.items() if v}
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    expect(not left, "nothing left after RemovePodSandbox", repr(left))
    entries = os.listdir(ARGS.state_root) if os.path.isdir(ARGS.state_root) else []
    expect(not [e for e in entries if not e.startswith("@")],
           "no container state left under runvm's root", repr(entries))


def main():
    global ARGS, pb, rt, img
    p = argparse.ArgumentParser()
    for a in ("gen", "socket", "handler", "image", "log-dir", "match", "runvm", "state-root"):
        p.add_argument(f"--{a}", required=True)
    ARGS = p.parse_args()
    generate(ARGS.gen)
    import grpc
    import api_pb2
    import api_pb2_grpc
    pb = api_pb2
    channel = grpc.insecure_channel(f"unix://{ARGS.socket}")
    rt = api_pb2_grpc.RuntimeServiceStub(channel)
    img = api_pb2_grpc.ImageServiceStub(channel)
    sandboxes = []
    try:
        scenario(sandboxes)
    except CheckFailed as e:
        print(f"FAIL {e}", flush=True)
        return 1
    except grpc.RpcError as e:
        print(f"FAIL CRI call: {e.code().name}: {e.details()}", flush=True)
        return 1
    finally:
        # A failed run still removes its pod through the CRI, as the kubelet would.
        for pod in sandboxes:
            for call, req in ((rt.StopPodSandbox, pb.StopPodSandboxRequest),
                              (rt.RemovePodSandbox, pb.RemovePodSandboxRequest)):
                try:
                    call(req(pod_sandbox_id=pod), timeout=60)
                except grpc.RpcError as e:
                    print(f"cleanup: {e.details()}", flush=True)
    print("cri: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
