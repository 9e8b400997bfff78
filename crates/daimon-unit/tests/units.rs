//! Behaviour of whole units: diagnostics text and positions, drop-ins, templates,
//! list resets, the loader functions.

use daimon_unit::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn ctx() -> SpecifierContext {
    SpecifierContext::example()
}

fn parse(name: &str, text: &str) -> LoadedUnit {
    parse_unit(name, Path::new(name), text.as_bytes(), &[], &ctx())
}

fn messages(l: &LoadedUnit) -> Vec<String> {
    l.diagnostics.iter().map(ToString::to_string).collect()
}

fn service(l: &LoadedUnit) -> &ServiceSection {
    l.unit.as_ref().and_then(Unit::service).expect("a service")
}

/// A fresh directory under the target's temporary directory.
fn scratch(name: &str) -> PathBuf {
    let d =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("units-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create scratch dir");
    d
}

fn write(path: &Path, text: &str) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

#[test]
fn invalid_value_is_an_error_with_line_and_column() {
    let l = parse(
        "bot.service",
        "[Unit]\nDescription=bot\n\n[Service]\nExecStart=/usr/bin/bot\nRestart=always\nRestartSec=ten\n",
    );
    assert_eq!(
        messages(&l),
        [
            "bot.service:7:12: RestartSec: \"ten\" is not a time span; expected e.g. 10s, 5min, 1h 30min"
        ]
    );
    assert!(l.has_errors());
    assert!(l.runnable().is_none());
}

#[test]
fn unknown_and_unsupported_directives_are_warnings() {
    let l = parse(
        "foo.service",
        "[Service]\nExecStart=/bin/true\nFrobnicate=1\nProtectSystem=strict\nBusName=a.b\nX-Custom=1\n[X-Vendor]\nA=b\n[Weird]\n",
    );
    assert_eq!(
        messages(&l),
        [
            "foo.service:3: unknown directive Frobnicate= in [Service]; ignored",
            "foo.service:4: ProtectSystem= is not enforced by daimon yet; ignored",
            "foo.service:5: BusName= is not supported by daimon yet; ignored",
            "foo.service:9: unknown section [Weird] in a .service unit; ignored",
        ]
    );
    assert!(!l.has_errors());
    assert!(l.runnable().is_some());
}

#[test]
fn service_model() {
    let l = parse(
        "web@8080.service",
        r#"[Unit]
Description=Web on %i
After=network.target
Wants=network-online.target
ConditionPathExists=|!/etc/skip
ConditionPathExists=/etc/web.conf
StartLimitBurst=3
StartLimitIntervalSec=1min

[Service]
Type=notify
ExecStartPre=-/bin/mkdir -p /run/web
ExecStart=/usr/bin/web --port %i "--name=a b" $OPTS
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5s
TimeoutStopSec=0
Environment="A=1 2" B=3
Environment=C=%n
EnvironmentFile=-/etc/default/web
WorkingDirectory=-~
User=web
UMask=0027
Nice=-5
KillSignal=SIGINT
LimitNOFILE=1024:4096
SuccessExitStatus=143 SIGTERM
StandardOutput=append:/var/log/web.log
StateDirectory=web web/cache
MemoryMax=1G
MemoryMax=50%
CPUQuota=50%
MemoryHigh=40M
CPUWeight=50
TasksMax=32

[Install]
WantedBy=multi-user.target
"#,
    );
    let s = service(&l);
    let u = l.unit.as_ref().unwrap();
    assert_eq!(u.unit.description.as_deref(), Some("Web on 8080"));
    assert_eq!(u.unit.after, ["network.target"]);
    assert_eq!(u.unit.conditions.len(), 2);
    assert!(u.unit.conditions[0].trigger && u.unit.conditions[0].negate);
    assert_eq!(u.unit.start_limit_burst, 3);
    assert_eq!(u.unit.start_limit_interval, Duration::from_secs(60));
    assert_eq!(s.service_type, ServiceType::Notify);
    assert!(s.exec_start_pre[0].ignore_failure);
    assert_eq!(
        s.exec_start[0].argv,
        ["/usr/bin/web", "--port", "8080", "--name=a b", "$OPTS"]
    );
    assert_eq!(s.restart, RestartPolicy::OnFailure);
    assert_eq!(s.restart_sec, Duration::from_secs(5));
    assert_eq!(s.timeout_stop, TimeSpan::Infinity);
    assert_eq!(s.timeout_start, TimeSpan::Finite(Duration::from_secs(90)));
    assert_eq!(
        s.environment,
        [
            ("A".into(), "1 2".into()),
            ("B".into(), "3".into()),
            ("C".into(), "web@8080.service".into())
        ]
    );
    assert_eq!(
        s.environment_files,
        [(PathBuf::from("/etc/default/web"), true)]
    );
    assert_eq!(s.working_directory, Some(WorkingDirectory::Home));
    assert!(s.working_directory_missing_ok);
    assert_eq!(s.user.as_deref(), Some("web"));
    assert_eq!(s.umask, 0o027);
    assert_eq!(s.nice, Some(-5));
    assert_eq!(s.kill_signal, 2);
    assert_eq!(
        s.limits,
        [(
            Resource::Nofile,
            ResourceLimit {
                soft: Some(1024),
                hard: Some(4096)
            }
        )]
    );
    assert!(s.success_exit_status.contains_code(143));
    assert_eq!(
        s.standard_output,
        StdOutput::Append("/var/log/web.log".into())
    );
    assert_eq!(s.directories.state, ["web", "web/cache"]);
    assert_eq!(s.memory_max, Some(ByteLimit::Percent(5000)));
    assert_eq!(s.cpu_quota, Some(5000));
    assert_eq!(s.memory_high, Some(ByteLimit::Bytes(40 << 20)));
    assert_eq!(s.cpu_weight, Some(50));
    assert_eq!(s.tasks_max, Some(daimon_unit::TasksMax::Count(32)));
    assert_eq!(u.install.wanted_by, ["multi-user.target"]);
    // The resource-control directives are enforced by daimond (cgroups), which warns
    // at start where it cannot: nothing to say when parsing.
    assert!(l.diagnostics.is_empty(), "{:?}", messages(&l));
    assert!(!l.has_errors());
}

#[test]
fn empty_assignment_resets_lists_across_dropins() {
    let frag = "[Unit]\nAfter=a.service\n[Service]\nExecStart=/bin/a\nEnvironment=X=1\n";
    let dropin = "[Unit]\nAfter=\nAfter=b.service\n[Service]\nExecStart=\nExecStart=/bin/b\nEnvironment=Y=2\n";
    let l = parse_unit(
        "x.service",
        Path::new("x.service"),
        frag.as_bytes(),
        &[(
            PathBuf::from("x.service.d/override.conf"),
            dropin.as_bytes().to_vec(),
        )],
        &ctx(),
    );
    assert!(l.diagnostics.is_empty(), "{:?}", messages(&l));
    let u = l.unit.as_ref().unwrap();
    assert_eq!(u.unit.after, ["b.service"]);
    let s = u.service().unwrap();
    assert_eq!(s.exec_start.len(), 1);
    assert_eq!(s.exec_start[0].path, "/bin/b");
    assert_eq!(s.environment.len(), 2);
    assert_eq!(u.dropin_paths, [PathBuf::from("x.service.d/override.conf")]);
}

#[test]
fn empty_values_reset_only_where_systemd_allows_it() {
    let l = parse(
        "x.service",
        "[Service]\nExecStart=/bin/x\nNice=5\nNice=\nKillMode=process\nKillMode=\nUser=a\nUser=\n",
    );
    assert!(l.diagnostics.is_empty(), "{:?}", messages(&l));
    let s = service(&l);
    assert_eq!(
        (s.nice, s.kill_mode, s.user.as_deref()),
        (None, KillMode::ControlGroup, None)
    );
    // systemd refuses an empty RestartSec= ("Failed to parse sec value").
    let l = parse("x.service", "[Service]\nExecStart=/bin/x\nRestartSec=\n");
    assert_eq!(
        messages(&l),
        ["x.service:3:12: RestartSec: \"\" is not a time span; expected e.g. 10s, 5min, 1h 30min"]
    );
}

#[test]
fn dropin_errors_name_the_dropin_file() {
    let l = parse_unit(
        "x.service",
        Path::new("x.service"),
        b"[Service]\nExecStart=/bin/a\n",
        &[(
            PathBuf::from("x.service.d/10-bad.conf"),
            b"[Service]\nNice=99\n".to_vec(),
        )],
        &ctx(),
    );
    assert_eq!(
        messages(&l),
        [
            "x.service.d/10-bad.conf:2:6: Nice: \"99\" is not a nice level; expected an integer from -20 to 19"
        ]
    );
}

#[test]
fn unit_level_rules() {
    let l = parse(
        "a.service",
        "[Service]\nExecStart=/bin/a\nExecStart=/bin/b\n",
    );
    assert_eq!(
        messages(&l),
        [
            "a.service:1: service has more than one ExecStart=, which only Type=oneshot services may have"
        ]
    );
    let l = parse("a.service", "[Unit]\nDescription=x\n");
    assert_eq!(
        messages(&l),
        [
            "a.service: service has no ExecStart=, ExecStop= or SuccessAction=; expected an ExecStart= line"
        ]
    );
    let l = parse(
        "a.service",
        "[Service]\nType=oneshot\nExecStart=/bin/a\nExecStart=/bin/b\n",
    );
    assert!(l.diagnostics.is_empty());
    let l = parse("t.timer", "[Timer]\nPersistent=yes\n");
    assert!(l.has_errors());
    let l = parse("t.timer", "[Timer]\nOnCalendar=daily\nOnBootSec=5min\n");
    assert!(!l.has_errors(), "{:?}", messages(&l));
    let t = l.unit.as_ref().and_then(Unit::timer).unwrap();
    assert_eq!(t.unit, "t.service");
    assert_eq!(t.on_calendar, ["daily"]);
    assert_eq!(t.on_boot, [Duration::from_secs(300)]);
    let l = parse("t.timer", "[Timer]\nOnCalendar=not a date\n");
    assert!(l.has_errors());
    assert!(
        messages(&l)[0]
            .starts_with("t.timer:2:12: OnCalendar: \"not a date\" is not a calendar event")
    );
}

#[test]
fn socket_units_parse_their_listeners_in_file_order() {
    let l = parse(
        "a.socket",
        "[Socket]\nListenStream=/run/a.sock\nListenDatagram=127.0.0.1:9000\nListenStream=8080\n\
         ListenSequentialPacket=@a\nListenFIFO=/run/a.fifo\nSocketMode=0600\nBacklog=16\n\
         ReusePort=yes\nBindIPv6Only=both\nFileDescriptorName=web\nService=b.service\n",
    );
    assert!(messages(&l).is_empty(), "{:?}", messages(&l));
    let s = l.unit.as_ref().unwrap().socket().unwrap();
    let kinds: Vec<ListenKind> = s.listen.iter().map(|x| x.kind).collect();
    assert_eq!(
        kinds,
        [
            ListenKind::Stream,
            ListenKind::Datagram,
            ListenKind::Stream,
            ListenKind::SequentialPacket,
            ListenKind::Fifo
        ]
    );
    assert_eq!(s.listen[2].address, ListenAddress::Port(8080));
    assert_eq!(s.socket_mode, 0o600);
    assert_eq!(s.backlog, 16);
    assert!(s.reuse_port);
    assert_eq!(s.bind_ipv6_only, BindIpv6Only::Both);
    assert_eq!(s.fd_name.as_deref(), Some("web"));
    assert_eq!(s.service, "b.service");
}

#[test]
fn socket_units_refuse_what_cannot_listen() {
    let l = parse(
        "a.socket",
        "[Socket]\nListenStream=/run/a.sock\nListenStream=\n",
    );
    assert!(
        messages(&l).iter().any(|m| m.contains("it will not start")),
        "an emptied list has nothing to listen on"
    );
    let l = parse("a.socket", "[Socket]\nListenSequentialPacket=8080\n");
    assert!(
        messages(&l)
            .iter()
            .any(|m| m.contains("SOCK_SEQPACKET is Unix only"))
    );
    let l = parse("a.socket", "[Socket]\nListenStream=80\nAccept=yes\n");
    assert!(messages(&l).is_empty(), "{:?}", messages(&l));
    let l = parse("a.socket", "[Socket]\nListenDatagram=80\nAccept=yes\n");
    assert!(
        l.has_errors(),
        "a datagram socket has no connections to accept"
    );
}

#[test]
fn path_units_parse_and_need_a_path() {
    let l = parse("p.path", "[Path]\nPathChanged=/etc/p\nUnit=q.service\n");
    assert!(messages(&l).is_empty(), "{:?}", messages(&l));
    let p = l.unit.as_ref().unwrap().path_unit().unwrap();
    assert_eq!(p.unit, "q.service");
    let l = parse("p.path", "[Path]\nUnit=q.service\n");
    assert!(l.has_errors(), "systemd: path unit lacks path setting");
}

#[test]
fn invalid_names_and_utf8() {
    let l = parse("no suffix", "[Unit]\n");
    assert!(l.unit.is_none());
    assert_eq!(
        messages(&l),
        [
            "no suffix: \"no suffix\" is not a valid unit name: it has no type suffix such as .service"
        ]
    );
    let l = parse_unit(
        "a.service",
        Path::new("a.service"),
        b"[Service]\nExecStart=/bin/\xff\n",
        &[],
        &ctx(),
    );
    assert!(l.has_errors());
}

#[test]
fn loader_templates_dropins_and_cat() {
    let dir = scratch("loader");
    write(
        &dir.join("web@.service"),
        "[Unit]\nDescription=web %i\n[Service]\nExecStart=/bin/web %i\n",
    );
    write(
        &dir.join("service.d/00-all.conf"),
        "[Service]\nEnvironment=ALL=1\n",
    );
    write(
        &dir.join("web@.service.d/10-tpl.conf"),
        "[Service]\nEnvironment=TPL=1\n",
    );
    write(
        &dir.join("web@8080.service.d/10-tpl.conf"),
        "[Service]\nEnvironment=INST=1\n",
    );
    write(
        &dir.join("web@8080.service.d/20-more.conf"),
        "[Service]\nNice=5\n",
    );
    write(
        &dir.join("bad.service"),
        "[Service]\nExecStart=/bin/bad\nRestartSec=ten\n",
    );
    write(&dir.join("good.timer"), "[Timer]\nOnCalendar=hourly\n");
    write(&dir.join("masked.service"), "");
    #[cfg(unix)]
    std::os::unix::fs::symlink("/dev/null", dir.join("nulled.service")).expect("symlink");
    write(&dir.join("notes.txt"), "x");

    let l = load_by_name(&dir, "web@8080.service", &ctx()).expect("found");
    assert!(l.diagnostics.is_empty(), "{:?}", messages(&l));
    let u = l.unit.as_ref().unwrap();
    assert_eq!(u.name, "web@8080.service");
    assert_eq!(u.unit.description.as_deref(), Some("web 8080"));
    assert_eq!(u.fragment_path, dir.join("web@.service"));
    let s = u.service().unwrap();
    assert_eq!(s.exec_start[0].argv, ["/bin/web", "8080"]);
    // The instance's 10-tpl.conf overrides the template's; order is by file name.
    assert_eq!(
        s.environment,
        [("ALL".into(), "1".into()), ("INST".into(), "1".into())]
    );
    assert_eq!(s.nice, Some(5));

    let cat = cat_unit(&dir, "web@8080.service").expect("cat");
    let paths: Vec<_> = cat.iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(
        paths,
        [
            dir.join("web@.service"),
            dir.join("service.d/00-all.conf"),
            dir.join("web@8080.service.d/10-tpl.conf"),
            dir.join("web@8080.service.d/20-more.conf"),
        ]
    );
    assert!(matches!(
        load_by_name(&dir, "nope.service", &ctx()),
        Err(LoadError::NotFound { .. })
    ));

    let all = load_dir(&dir, &ctx());
    let names: Vec<_> = all.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "bad.service",
            "good.timer",
            "masked.service",
            "nulled.service",
            "web@.service"
        ]
    );
    assert!(all[0].has_errors());
    assert!(!all[1].has_errors());
    assert!(all[2].masked && all[2].unit.is_none());
    assert!(all[3].masked);
    assert!(!all[4].has_errors());

    let diags = verify_files(&[dir.join("bad.service"), dir.join("good.timer")], &ctx());
    assert_eq!(diags.len(), 1);
    assert!(diags[0].to_string().ends_with("bad.service:3:12: RestartSec: \"ten\" is not a time span; expected e.g. 10s, 5min, 1h 30min"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unit_names_helpers() {
    assert_eq!(with_default_suffix("nginx"), "nginx.service");
    assert!(is_valid_unit_name("getty@tty1.service"));
    assert!(!is_valid_unit_name("getty@tty1"));
    let n = UnitName::parse("getty@.service").unwrap();
    assert_eq!(
        n.instantiate("tty2").unwrap().as_str(),
        "getty@tty2.service"
    );
}

#[test]
fn notify_and_watchdog_settings() {
    let l = parse(
        "n.service",
        "[Service]\nType=notify-reload\nExecStart=/bin/true\nNotifyAccess=all\n\
         WatchdogSec=5s\nWatchdogSignal=SIGKILL\nReloadSignal=SIGUSR1\n",
    );
    assert!(messages(&l).is_empty(), "{:?}", messages(&l));
    let s = service(&l);
    assert_eq!(s.service_type, ServiceType::NotifyReload);
    assert_eq!(s.notify_access, Some(daimon_unit::NotifyAccess::All));
    assert_eq!(s.watchdog, Some(Duration::from_secs(5)));
    assert_eq!(s.watchdog_signal, 9);
    assert_eq!(s.reload_signal, 10);
    assert_eq!(
        service(&parse("d.service", "[Service]\nExecStart=/bin/true\n")).reload_signal,
        1
    );
}
