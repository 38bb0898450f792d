using System.Collections.Immutable;
using SharpTables.Rules.Extensions;
using SharpTables.Rules.Model;

namespace SharpTables.Rules.Parsing;

/// <summary>
/// Parses one iptables command line (argv without the program name) the way iptables 1.8.9's
/// do_parse does: getopt_long with in-order non-options, unique-prefix long options, options of
/// extensions merged as they load, the protocol match loaded on the first unknown option,
/// then final checks, address expansion and the command/option legality table.
/// Shared by the command line and iptables-restore, for iptables (IPv4) and ip6tables (IPv6): the
/// family decides the address syntax (xtables_ipparse_multiple / xtables_ip6parse_multiple), which
/// extensions exist, that ip6tables has no <c>-f</c>, and what <c>-4</c>/<c>-6</c> do.
/// </summary>
public sealed class CommandParser
{
    private enum Opt
    {
        Numeric = 1 << 0, Source = 1 << 1, Destination = 1 << 2, Protocol = 1 << 3, Jump = 1 << 4,
        Verbose = 1 << 5, Expanded = 1 << 6, ViaIn = 1 << 7, ViaOut = 1 << 8, LineNumbers = 1 << 9,
        Counters = 1 << 10, Fragment = 1 << 11,
    }

    private const string OptFlags = "nsdpjvxio0cf";
    private static readonly bool[] s_invertible = [false, true, true, true, false, false, false, true, true, false, false, true];

    // commands_v_options of xshared.c: x = illegal, ' ' = optional. Rows in Cmd bit order.
    private static readonly string[] s_legal =
    [
        /*INSERT*/     "x     x  x  ",
        /*DELETE*/     "x     x  xx ",
        /*DELETE_NUM*/ "xxxxx xxxxxx",
        /*REPLACE*/    "x     x  x  ",
        /*APPEND*/     "x     x  x  ",
        /*LIST*/       " xxxx  xx xx",
        /*FLUSH*/      "xxxxx xxxxxx",
        /*ZERO*/       "xxxxx xxxxxx",
        /*NEW_CHAIN*/  "xxxxx xxxxxx",
        /*DEL_CHAIN*/  "xxxxx xxxxxx",
        /*SET_POLICY*/ "xxxxx xxxx x",
        /*RENAME*/     "xxxxx xxxxxx",
        /*LIST_RULES*/ "xxxxx xxxxxx",
        /*ZERO_NUM*/   "xxxxx xxxxxx",
        /*CHECK*/      "x     x  xx ",
    ];

    private sealed record BaseOpt(string Long, char Short, ArgKind Arg);

    private static readonly BaseOpt[] s_baseLong =
    [
        new("append", 'A', ArgKind.Required), new("delete", 'D', ArgKind.Required), new("check", 'C', ArgKind.Required),
        new("insert", 'I', ArgKind.Required), new("replace", 'R', ArgKind.Required), new("list", 'L', ArgKind.Optional),
        new("list-rules", 'S', ArgKind.Optional), new("flush", 'F', ArgKind.Optional), new("zero", 'Z', ArgKind.Optional),
        new("new-chain", 'N', ArgKind.Required), new("delete-chain", 'X', ArgKind.Optional), new("rename-chain", 'E', ArgKind.Required),
        new("policy", 'P', ArgKind.Required), new("source", 's', ArgKind.Required), new("destination", 'd', ArgKind.Required),
        new("src", 's', ArgKind.Required), new("dst", 'd', ArgKind.Required), new("protocol", 'p', ArgKind.Required),
        new("in-interface", 'i', ArgKind.Required), new("jump", 'j', ArgKind.Required), new("table", 't', ArgKind.Required),
        new("match", 'm', ArgKind.Required), new("numeric", 'n', ArgKind.None), new("out-interface", 'o', ArgKind.Required),
        new("verbose", 'v', ArgKind.None), new("wait", 'w', ArgKind.Optional), new("wait-interval", 'W', ArgKind.Optional),
        new("exact", 'x', ArgKind.None), new("fragments", 'f', ArgKind.None), new("version", 'V', ArgKind.None),
        new("help", 'h', ArgKind.Optional), new("line-numbers", '0', ArgKind.None), new("modprobe", 'M', ArgKind.Required),
        new("set-counters", 'c', ArgKind.Required), new("goto", 'g', ArgKind.Required), new("ipv4", '4', ArgKind.None),
        new("ipv6", '6', ArgKind.None),
    ];

    // optstring "-:A:C:D:R:I:L::S::M:F::Z::N:X::E:P:Vh::o:p:s:d:j:i:fbvw::W::nt:m:xc:g:46"
    private static ArgKind? ShortArg(char c) => c switch
    {
        'A' or 'C' or 'D' or 'R' or 'I' or 'M' or 'N' or 'E' or 'P' or 'o' or 'p' or 's' or 'd' or 'j' or 'i' or 't' or 'm' or 'c' or 'g' => ArgKind.Required,
        'L' or 'S' or 'F' or 'Z' or 'X' or 'h' or 'w' or 'W' => ArgKind.Optional,
        'V' or 'f' or 'b' or 'v' or 'n' or 'x' or '4' or '6' => ArgKind.None,
        _ => null,
    };

    private readonly Family _family;
    private readonly bool _restore;
    private readonly Func<string, string, bool>? _chainExists;

    /// <param name="chainExists">Whether (table, chain) names a chain; used to check jump targets as iptables-nft does.</param>
    public CommandParser(Family family = Family.IPv4, bool restore = false, Func<string, string, bool>? chainExists = null)
    {
        _family = family;
        _restore = restore;
        _chainExists = chainExists;
    }

    // ---- parse state (one instance per Parse call) ----
    private string[] _argv = [];
    private int _optind;
    private readonly List<(ExtensionInstance Inst, bool IsTarget)> _loaded = [];
    private readonly List<MatchInstance> _matches = [];
    private TargetInstance? _target;
    private string? _jumpTo;
    private bool _goto;
    private int _options;
    private string? _protocolText;
    private ushort _proto;
    private bool _protoUsed;
    private bool _invProto, _invSrc, _invDst, _invIn, _invOut, _invFrag;
    private string _inIface = "", _outIface = "";
    private string? _srcSpec, _dstSpec;
    private RuleContext _ctx = null!;
    private ParsedCommand _cmd = null!;

    /// <summary>Parses <paramref name="args"/>; throws <see cref="XtablesException"/> with iptables' wording.</summary>
    public ParsedCommand Parse(IReadOnlyList<string> args, string? defaultTable = null)
    {
        _argv = [.. args];
        _optind = 0;
        _loaded.Clear(); _matches.Clear();
        _target = null; _jumpTo = null; _goto = false; _options = 0;
        _protocolText = null; _proto = 0; _protoUsed = false;
        _invProto = _invSrc = _invDst = _invIn = _invOut = _invFrag = false;
        _inIface = _outIface = ""; _srcSpec = _dstSpec = null;
        _cmd = new ParsedCommand();
        if (defaultTable != null) _cmd.Table = defaultTable;
        _ctx = new RuleContext { Family = _family, Table = _cmd.Table };

        bool invert = false;
        while (_optind < _argv.Length)
        {
            string tok = _argv[_optind++];
            if (tok == "--")
            {
                if (_optind < _argv.Length) throw Xt.Param("unknown arguments found on commandline");
                break;
            }
            if (tok.StartsWith("--", StringComparison.Ordinal))
            {
                HandleLong(tok, invert);
                invert = false;
                continue;
            }
            if (tok.Length > 1 && tok[0] == '-')
            {
                for (int k = 1; k < tok.Length; k++)
                {
                    char c = tok[k];
                    var kind = ShortArg(c);
                    if (kind == null)
                        throw Xt.Param($"unknown option \"{tok}\"");
                    string? arg = null;
                    if (kind == ArgKind.Required)
                    {
                        if (k + 1 < tok.Length) arg = tok[(k + 1)..];
                        else if (_optind < _argv.Length) arg = _argv[_optind++];
                        else throw Xt.Param($"option \"{tok}\" requires an argument");
                        k = tok.Length;
                    }
                    else if (kind == ArgKind.Optional && k + 1 < tok.Length)
                    {
                        arg = tok[(k + 1)..];
                        k = tok.Length;
                    }
                    HandleBase(c, arg, invert);
                    invert = false;
                }
                continue;
            }
            // non-option argument (getopt's case 1)
            if (tok == "!")
            {
                if (invert) throw Xt.Param("multiple consecutive ! not allowed");
                invert = true;
                continue;
            }
            throw new XtablesException(XtablesExit.ParameterProblem, $"Bad argument `{tok}'", ErrorStyle.Plain);
        }

        if (_cmd.Version || _cmd.Help || _cmd.OtherFamily) return _cmd;

        if (_cmd.Table == "nat" && (_cmd.Policy == "DROP" || _jumpTo == "DROP"))
            throw Xt.Param("\nThe \"nat\" table is not intended for filtering, the use of DROP is therefore inhibited.\n\n");

        _ctx.Protocol = _proto;
        _ctx.InvertProtocol = _invProto;
        _ctx.Header = BuildHeader(0, 0, 0, 0);
        foreach (var m in _matches) m.RunFinalCheck(_ctx);
        _target?.RunFinalCheck(_ctx);

        if (_cmd.Command == Cmd.None) throw Xt.Param("no command specified");
        if (invert) throw Xt.Param("nothing appropriate following !");

        bool ruleCmd = (_cmd.Command & (Cmd.Replace | Cmd.Insert | Cmd.Delete | Cmd.Append | Cmd.Check)) != 0;
        List<(UInt128, UInt128)> srcs = [(0, 0)], dsts = [(0, 0)];
        if (ruleCmd)
        {
            string any = _family == Family.IPv6 ? "::0/0" : "0.0.0.0/0";
            srcs = AddressParser.ParseMultiple(_family, _srcSpec ?? any);
            dsts = AddressParser.ParseMultiple(_family, _dstSpec ?? any);
            if ((srcs.Count > 1 || dsts.Count > 1) && (_invSrc || _invDst))
                throw Xt.Param("! not allowed with multiple source or destination IP addresses");
        }
        if (_cmd.Command == Cmd.Replace && (srcs.Count != 1 || dsts.Count != 1))
            throw Xt.Param("Replacement rule does not specify a unique address");

        GenericOptCheck();

        if (_cmd.Chain != null && _cmd.Chain.Length >= 29)
            throw Xt.Param($"chain name `{_cmd.Chain}' too long (must be under 29 chars)");

        if (ruleCmd)
        {
            if (_cmd.Chain is "PREROUTING" or "INPUT" && Has(Opt.ViaOut))
                throw Xt.Param($"Can't use -o with {_cmd.Chain}\n");
            if (_cmd.Chain is "POSTROUTING" or "OUTPUT" && Has(Opt.ViaIn))
                throw Xt.Param($"Can't use -i with {_cmd.Chain}\n");

            if (_target == null && _jumpTo != null)
            {
                // A jump to something that is neither a verdict nor a target extension: a chain.
                if (_chainExists != null && !_chainExists(_cmd.Table, _jumpTo))
                    throw Xt.Param($"Chain '{_jumpTo}' does not exist");
                _target = new JumpTarget(_jumpTo, _goto);
            }
            else if (_goto && _target != null)
            {
                // -g to a built-in verdict: iptables-nft refuses it when the rule is added.
                _target = new JumpTarget(_jumpTo!, true);
            }

            var matches = _matches.Cast<MatchInstance>().ToImmutableArray();
            foreach (var (sa, sm) in srcs)
                foreach (var (da, dm) in dsts)
                    _cmd.Rules.Add(new Rule(BuildHeader(sa, sm, da, dm), matches, _target));
        }
        return _cmd;
    }

    /// <summary>
    /// xshared's assert_valid_chain_name, as -N (when it is parsed) and iptables-restore's chain
    /// lines apply it: length, first character, target names of the family, white space.
    /// </summary>
    public static void AssertValidChainName(string name, Family family)
    {
        if (name.Length >= 29) throw Xt.Param($"chain name `{name}' too long (must be under 29 chars)");
        if (name.Length > 0 && name[0] is '-' or '!') throw Xt.Param($"chain name not allowed to start with `{name[0]}'");
        if (VerdictTarget.Find(name) != null || ExtensionRegistry.FindTarget(name, family) != null)
            throw Xt.Param("chain name may not clash with target name");
        if (name.Any(c => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r')) throw Xt.Param($"Invalid chain name `{name}'");
    }

    private RuleHeader BuildHeader(UInt128 sa, UInt128 sm, UInt128 da, UInt128 dm) => new()
    {
        Family = _family,
        Source = sa, SourceMask = sm, InvertSource = _invSrc,
        Destination = da, DestinationMask = dm, InvertDestination = _invDst,
        InInterface = _inIface, InvertIn = _invIn,
        OutInterface = _outIface, InvertOut = _invOut,
        Protocol = _proto, InvertProtocol = _invProto,
        Fragment = !Has(Opt.Fragment) ? FragmentMatch.Any : _invFrag ? FragmentMatch.NotFragments : FragmentMatch.Fragments,
    };

    private bool Has(Opt o) => (_options & (int)o) != 0;

    private void SetOption(Opt o, bool invert)
    {
        int bit = (int)o;
        int i = System.Numerics.BitOperations.TrailingZeroCount(bit);
        if ((_options & bit) != 0) throw Xt.Param($"multiple -{OptFlags[i]} flags not allowed");
        _options |= bit;
        if (invert && !s_invertible[i]) throw Xt.Param($"cannot have ! before -{OptFlags[i]}");
    }

    private static char CmdChar(Cmd c) => c switch
    {
        Cmd.Insert => 'I', Cmd.Delete => 'D', Cmd.DeleteNum => 'D', Cmd.Replace => 'R', Cmd.Append => 'A',
        Cmd.List => 'L', Cmd.Flush => 'F', Cmd.Zero => 'Z', Cmd.ZeroNum => 'Z', Cmd.NewChain => 'N',
        Cmd.DeleteChain => 'X', Cmd.SetPolicy => 'P', Cmd.RenameChain => 'E', Cmd.ListRules => 'S',
        Cmd.Check => 'C', _ => '?',
    };

    private static char CmdCharOfSet(Cmd set)
    {
        for (int b = 0; b < 15; b++) if (((int)set & (1 << b)) != 0) return CmdChar((Cmd)(1 << b));
        return '?';
    }

    private void AddCommand(Cmd newCmd, Cmd others, bool invert)
    {
        if (invert) throw Xt.Param("unexpected '!' flag");
        var clash = _cmd.Command & ~others;
        if (clash != 0) throw Xt.Param($"Cannot use -{CmdChar(newCmd)} with -{CmdCharOfSet(clash)}");
        _cmd.Command |= newCmd;
    }

    /// <summary>xs_has_arg: the next word exists and does not start with '-' or '!'.</summary>
    private bool HasArg() => _optind < _argv.Length && _argv[_optind].Length > 0 && _argv[_optind][0] != '-' && _argv[_optind][0] != '!'
                             || (_optind < _argv.Length && _argv[_optind].Length == 0);

    /// <summary>For extensions that take a second word (e.g. --tcp-flags MASK COMP).</summary>
    internal string? TakeExtraArg() => HasArg() ? _argv[_optind++] : null;

    private static int ParseRuleNumber(string s)
    {
        if (!Packets.Ipv4.TryParseCUInt(s, int.MaxValue, out uint n) || n < 1)
            throw Xt.Param($"Invalid rule number `{s}'");
        return (int)n;
    }

    private void HandleBase(char c, string? arg, bool invert)
    {
        switch (c)
        {
            case 'A': AddCommand(Cmd.Append, Cmd.None, invert); _cmd.Chain = arg; break;
            case 'C': AddCommand(Cmd.Check, Cmd.None, invert); _cmd.Chain = arg; break;
            case 'D':
                AddCommand(Cmd.Delete, Cmd.None, invert);
                _cmd.Chain = arg;
                if (HasArg()) { _cmd.RuleNumber = ParseRuleNumber(_argv[_optind++]); _cmd.Command = Cmd.DeleteNum; }
                break;
            case 'R':
                AddCommand(Cmd.Replace, Cmd.None, invert);
                _cmd.Chain = arg;
                if (HasArg()) _cmd.RuleNumber = ParseRuleNumber(_argv[_optind++]);
                else throw Xt.Param("-R requires a rule number");
                break;
            case 'I':
                AddCommand(Cmd.Insert, Cmd.None, invert);
                _cmd.Chain = arg;
                _cmd.RuleNumber = HasArg() ? ParseRuleNumber(_argv[_optind++]) : 1;
                break;
            case 'L':
            case 'S':
                AddCommand(c == 'L' ? Cmd.List : Cmd.ListRules, Cmd.Zero | Cmd.ZeroNum, invert);
                if (arg != null) _cmd.Chain = arg;
                else if (HasArg()) _cmd.Chain = _argv[_optind++];
                if (HasArg()) _cmd.RuleNumber = ParseRuleNumber(_argv[_optind++]);
                break;
            case 'F':
                AddCommand(Cmd.Flush, Cmd.None, invert);
                if (arg != null) _cmd.Chain = arg;
                else if (HasArg()) _cmd.Chain = _argv[_optind++];
                break;
            case 'Z':
                AddCommand(Cmd.Zero, Cmd.List | Cmd.ListRules, invert);
                if (arg != null) _cmd.Chain = arg;
                else if (HasArg()) _cmd.Chain = _argv[_optind++];
                if (HasArg())
                {
                    _cmd.RuleNumber = ParseRuleNumber(_argv[_optind++]);
                    _cmd.Command = (_cmd.Command & ~Cmd.Zero) | Cmd.ZeroNum;
                }
                break;
            case 'N':
                AssertValidChainName(arg!, _family);
                AddCommand(Cmd.NewChain, Cmd.None, invert);
                _cmd.Chain = arg;
                break;
            case 'X':
                AddCommand(Cmd.DeleteChain, Cmd.None, invert);
                if (arg != null) _cmd.Chain = arg;
                else if (HasArg()) _cmd.Chain = _argv[_optind++];
                break;
            case 'E':
                AddCommand(Cmd.RenameChain, Cmd.None, invert);
                _cmd.Chain = arg;
                if (HasArg()) _cmd.NewName = _argv[_optind++];
                else throw Xt.Param("-E requires old-chain-name and new-chain-name");
                break;
            case 'P':
                AddCommand(Cmd.SetPolicy, Cmd.None, invert);
                _cmd.Chain = arg;
                if (HasArg()) _cmd.Policy = _argv[_optind++];
                else throw Xt.Param("-P requires a chain and a policy");
                break;
            case 'h':
                _cmd.Help = true;
                break;
            case 'V':
                _cmd.Version = true;
                break;
            case 'p':
                SetOption(Opt.Protocol, invert);
                _invProto = invert;
                // iptables 1.8.9 takes the protocol from argv[optind - 1], the whole word that held the
                // argument: "-ptcp" and "--protocol=tcp" therefore name unknown protocols.
                _protocolText = _argv[_optind - 1].ToLowerInvariant();
                _proto = ParseProtocol(_protocolText);
                if (_proto == 0 && _invProto) throw Xt.Param("rule would never match protocol");
                // ipv6_proto_parse: an extension header is never the upper-layer protocol.
                if (_family == Family.IPv6 && !_invProto && _proto is 43 or 44 or 51 or 60)
                    Xt.Warn($"Warning: never matched protocol: {_protocolText}. use extension match instead.");
                break;
            case 's': SetOption(Opt.Source, invert); _invSrc = invert; _srcSpec = arg; break;
            case 'd': SetOption(Opt.Destination, invert); _invDst = invert; _dstSpec = arg; break;
            case 'j':
                SetOption(Opt.Jump, invert);
                CommandJump(arg!);
                break;
            case 'g':
                SetOption(Opt.Jump, invert);
                _goto = true;
                _jumpTo = ParseTargetName(arg!);
                break;
            case 'i':
                if (arg!.Length == 0) throw Xt.Param("Empty interface is likely to be undesired");
                SetOption(Opt.ViaIn, invert);
                _invIn = invert;
                _inIface = ParseInterface(arg, invert);
                break;
            case 'o':
                if (arg!.Length == 0) throw Xt.Param("Empty interface is likely to be undesired");
                SetOption(Opt.ViaOut, invert);
                _invOut = invert;
                _outIface = ParseInterface(arg, invert);
                break;
            case 'f':
                if (_family == Family.IPv6) throw Xt.Param("`-f' is not supported in IPv6, use -m frag instead");
                SetOption(Opt.Fragment, invert);
                _invFrag = invert;
                break;
            case 'm':
                if (invert) throw Xt.Param("unexpected ! flag before --match");
                LoadMatch(arg!);
                break;
            case 'n': SetOption(Opt.Numeric, invert); _cmd.Numeric = true; break;
            case 'v':
                if (_cmd.Verbose == 0) SetOption(Opt.Verbose, invert);
                _cmd.Verbose++;
                break;
            case 'x': SetOption(Opt.Expanded, invert); _cmd.Exact = true; break;
            case '0': SetOption(Opt.LineNumbers, invert); _cmd.LineNumbers = true; break;
            case 't':
                if (invert) throw Xt.Param("unexpected ! flag before --table");
                if (_restore)
                    throw Xt.Param($"The -t option cannot be used in {ProgramNames.Restore}.\n");
                if (BuiltinTables.Find(arg!) == null)
                    throw new XtablesException(XtablesExit.VersionProblem, $"table '{arg}' does not exist");
                _cmd.Table = arg!;
                _cmd.TableSet = true;
                _ctx = new RuleContext { Family = _family, Table = _cmd.Table };
                break;
            case 'c':
                SetOption(Opt.Counters, invert);
                ParseCounters(arg!);
                break;
            case 'w': case 'W': case 'M': case 'b':
                break;
            case '4':
            case '6':
                if ((c == '6') == (_family == Family.IPv6)) break;
                // The other family's flag: iptables-restore ignores the rest of the line (the command
                // parsed so far still runs, without its rule); the command line refuses it.
                if (_restore)
                {
                    _cmd.OtherFamily = true;
                    _optind = _argv.Length;
                    break;
                }
                throw new XtablesException(XtablesExit.ParameterProblem, "", ErrorStyle.Plain);
        }
    }

    private void ParseCounters(string pcnt)
    {
        string? bcnt = null;
        int comma = pcnt.Length > 1 ? pcnt.IndexOf(',', 1) : -1;
        if (comma >= 0) { bcnt = pcnt[(comma + 1)..]; pcnt = pcnt[..comma]; }
        if (bcnt == null && HasArg()) bcnt = _argv[_optind++];
        if (bcnt == null) throw Xt.Param("-c requires packet and byte counter");
        if (!TryScanULong(pcnt, out ulong p)) throw Xt.Param("-c packet counter not numeric");
        if (!TryScanULong(bcnt, out ulong b)) throw Xt.Param("-c byte counter not numeric");
        _cmd.CounterArgument = new Counters(p, b);
        // ipv6_post_parse copies the counters only into the legacy entry (cs->fw6.counters), which
        // the nf_tables backend never reads: ip6tables-nft rules start at zero whatever -c says.
        if (_family == Family.IPv4) _cmd.Counters = _cmd.CounterArgument;
    }

    /// <summary>sscanf("%llu"): leading digits, the rest ignored.</summary>
    internal static bool TryScanULong(string s, out ulong v)
    {
        v = 0;
        s = s.TrimStart();
        int i = 0;
        if (i < s.Length && s[i] == '+') i++;
        int start = i;
        bool overflow = false;
        while (i < s.Length && char.IsAsciiDigit(s[i]))
        {
            ulong d = (ulong)(s[i] - '0');
            if (v > (ulong.MaxValue - d) / 10) overflow = true; else v = v * 10 + d;
            i++;
        }
        if (overflow) v = ulong.MaxValue; // strtoull saturates
        return i > start;
    }

    private static string ParseTargetName(string name)
    {
        if (name.Length >= 29) throw Xt.Param($"Invalid target name `{name}' (28 chars max)");
        foreach (char ch in name)
            if (char.IsWhiteSpace(ch)) throw Xt.Param($"Invalid target name `{name}'");
        return name;
    }

    private void CommandJump(string name)
    {
        _jumpTo = ParseTargetName(name);
        var verdict = VerdictTarget.Find(_jumpTo);
        if (verdict != null) { _target = verdict; return; }
        var ext = ExtensionRegistry.FindTarget(_jumpTo, _family);
        if (ext == null) return; // a chain name
        _target = ext.Create();
        _target.Family = _family;
        _loaded.Add((_target, true));
    }

    /// <summary>xtables_find_match's special case: the ICMPv6 match answers to three names.</summary>
    private static string MatchName(string name) => name is "icmpv6" or "ipv6-icmp" ? "icmp6" : name;

    private void LoadMatch(string name)
    {
        name = MatchName(name);
        var ext = ExtensionRegistry.FindMatch(name, _family)
            ?? throw Xt.Param($"Couldn't load match `{name}':No such file or directory\n");
        var inst = ext.Create();
        inst.Family = _family;
        _matches.Add(inst);
        _loaded.Add((inst, false));
    }

    private static string ParseInterface(string arg, bool invert)
    {
        if (arg.Length >= 16)
            throw Xt.Param($"interface name `{arg}' must be shorter than IFNAMSIZ (15)");
        if (arg.IndexOfAny(['/', ' ']) >= 0 && !arg.EndsWith('+'))
            Xt.Warn($"Warning: weird character in interface `{arg}' ('/' and ' ' are not allowed by the kernel).");
        // iptables-nft drops "-i +" (any interface) but keeps "! -o +".
        return arg == "+" && !invert ? "" : arg;
    }

    /// <summary>xtables_parse_protocol.</summary>
    public static ushort ParseProtocol(string s)
    {
        if (Packets.Ipv4.TryParseCUInt(s, 255, out uint n)) return (ushort)n;
        if (s == "all") return 0;
        var num = NetDb.ProtocolNumber(s);
        if (num != null) return (ushort)num.Value;
        throw Xt.Param($"unknown protocol \"{s}\" specified");
    }

    private void HandleLong(string tok, bool invert)
    {
        string body = tok[2..];
        string? inlineArg = null;
        int eq = body.IndexOf('=');
        if (eq >= 0) { inlineArg = body[(eq + 1)..]; body = body[..eq]; }

        for (int attempt = 0; attempt < 2; attempt++)
        {
            var found = ResolveLong(body);
            if (found is { } f)
            {
                string? arg = inlineArg;
                if (f.Arg == ArgKind.Required && arg == null)
                {
                    if (_optind < _argv.Length) arg = _argv[_optind++];
                    else throw Xt.Param($"option \"{tok}\" requires an argument");
                }
                else if (f.Arg == ArgKind.None && inlineArg != null)
                {
                    throw Xt.Param($"unknown option \"{tok}\"");
                }
                if (f.Base != null) { HandleBase(f.Base.Short, arg, invert); return; }
                f.Owner!.ParseOption(f.Def!, arg, invert, _ctxWithArgs);
                return;
            }
            // command_default: try loading the protocol's match once, then retry.
            if (attempt == 0 && TryLoadProto()) continue;
            break;
        }
        throw Xt.Param($"unknown option \"{tok}\"");
    }

    private RuleContext _ctxWithArgs
    {
        get
        {
            _ctx.Protocol = _proto;
            _ctx.InvertProtocol = _invProto;
            _ctx.ExtraArg = TakeExtraArg;
            return _ctx;
        }
    }

    private bool TryLoadProto()
    {
        if (_protocolText == null || _protoUsed) return false;
        string name = _protocolText;
        if (Packets.Ipv4.TryParseCUInt(name, 255, out uint n))
            name = NetDb.ProtocolName((int)n) ?? name;
        var ext = ExtensionRegistry.FindMatch(MatchName(name), _family);
        if (ext == null) return false;
        _protoUsed = true;
        var inst = ext.Create();
        inst.Family = _family;
        _matches.Add(inst);
        _loaded.Add((inst, false));
        return true;
    }

    private readonly record struct Resolved(BaseOpt? Base, ExtensionInstance? Owner, OptionDef? Def, ArgKind Arg);

    /// <summary>getopt_long lookup over the merged option table: exact name first, else a unique prefix.</summary>
    private Resolved? ResolveLong(string name)
    {
        foreach (var b in s_baseLong)
            if (b.Long == name) return new Resolved(b, null, null, b.Arg);
        var owners = OptionOwners();
        foreach (var inst in owners)
            foreach (var d in inst.Extension.Options)
                if (d.Name == name) return new Resolved(null, inst, d, d.Arg);

        Resolved? candidate = null;
        object? key = null;
        foreach (var b in s_baseLong)
        {
            if (!b.Long.StartsWith(name, StringComparison.Ordinal)) continue;
            if (candidate == null) { candidate = new Resolved(b, null, null, b.Arg); key = b.Short; }
            else if (!Equals(key, b.Short)) return null;
        }
        foreach (var inst in owners)
            foreach (var d in inst.Extension.Options)
            {
                if (!d.Name.StartsWith(name, StringComparison.Ordinal)) continue;
                var k = (inst, d.Id);
                if (candidate == null) { candidate = new Resolved(null, inst, d, d.Arg); key = k; }
                else if (!Equals(key, k)) return null;
            }
        return candidate;
    }

    /// <summary>
    /// The instances that receive extension options, in getopt's table order: xtables merges an
    /// extension's options once, when it is first loaded, in front of those merged before; a second
    /// <c>-m NAME</c> is a clone that adds no options, and an option of NAME goes to its newest
    /// instance (the older ones are marked completed).
    /// </summary>
    private List<ExtensionInstance> OptionOwners()
    {
        var order = new List<Extension>();
        foreach (var (inst, _) in _loaded)
            if (!order.Contains(inst.Extension)) order.Add(inst.Extension);
        var owners = new List<ExtensionInstance>(order.Count);
        for (int i = order.Count - 1; i >= 0; i--)
            owners.Add(_loaded.Last(l => l.Inst.Extension == order[i]).Inst);
        return owners;
    }

    private void GenericOptCheck()
    {
        for (int i = 0; i < OptFlags.Length; i++)
        {
            if ((_options & (1 << i)) == 0) continue;
            int legal = 0;
            for (int j = 0; j < s_legal.Length; j++)
            {
                if (((int)_cmd.Command & (1 << j)) == 0) continue;
                if (s_legal[j][i] != 'x') legal = 1;
                else if (legal == 0) legal = -1;
            }
            if (legal == -1) throw Xt.Param($"Illegal option `-{OptFlags[i]}' with this command");
        }
    }
}

/// <summary>Program names used in messages.</summary>
public static class ProgramNames
{
    public static string Main { get; set; } = "sharptables";
    public static string Restore { get; set; } = "sharptables-restore";
    public static string Save { get; set; } = "sharptables-save";
}

