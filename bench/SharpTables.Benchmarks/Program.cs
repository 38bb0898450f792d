using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using SharpTables.Rules.Commands;
using SharpTables.Rules.Model;

BenchmarkSwitcher.FromAssembly(typeof(RestoreSaveBenchmark).Assembly).Run(args);

/// <summary>
/// iptables-restore then iptables-save of a large ruleset: the oracle's 10,006-rule fixture
/// (tests/fixtures/listing/linenumbers.restore) and a generated 10,000-rule table with
/// tcp/udp matches, addresses and a user chain.
/// </summary>
[MemoryDiagnoser]
public class RestoreSaveBenchmark
{
    private string _fixture = "";
    private string _generated = "";
    private Ruleset _loaded = new();

    [GlobalSetup]
    public void Setup()
    {
        var dir = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(dir, "SharpTables.slnx"))) dir = Path.GetDirectoryName(dir)!;
        // The fixture is restore_list.py input: "#@ repeat N LINE" expands to N lines; "#@ commands" ends it.
        var sb = new System.Text.StringBuilder();
        foreach (var line in File.ReadLines(Path.Combine(dir, "tests", "fixtures", "listing", "linenumbers.restore")))
        {
            if (line.StartsWith("#@ commands", StringComparison.Ordinal)) break;
            if (line.StartsWith("#@ repeat ", StringComparison.Ordinal))
            {
                var rest = line["#@ repeat ".Length..];
                int sp = rest.IndexOf(' ');
                for (int i = int.Parse(rest[..sp]); i > 0; i--) sb.Append(rest[(sp + 1)..]).Append('\n');
                continue;
            }
            sb.Append(line).Append('\n');
        }
        _fixture = sb.ToString();

        var lines = new List<string> { "*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ":SVC - [0:0]" };
        for (int i = 0; i < 5000; i++)
            lines.Add($"-A INPUT -s 10.{i / 250}.{i % 250}.0/24 -p tcp -m tcp --dport {1000 + i} -j ACCEPT");
        lines.Add("-A INPUT -j SVC");
        for (int i = 0; i < 5000; i++)
            lines.Add($"-A SVC -d 192.168.{i / 250}.{i % 250}/32 -p udp -m udp --sport 53 -j DROP");
        lines.Add("COMMIT");
        _generated = string.Join("\n", lines) + "\n";
        _loaded = Restore.Apply(new Ruleset(), _generated, new RestoreOptions());
    }

    [Benchmark] public Ruleset RestoreFixture10k() => Restore.Apply(new Ruleset(), _fixture, new RestoreOptions());
    [Benchmark] public Ruleset RestoreGenerated10k() => Restore.Apply(new Ruleset(), _generated, new RestoreOptions());
    [Benchmark] public string SaveGenerated10k() => Restore.Save(_loaded, counters: true);
}
