using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using SharpTables.DiffTest.Generation;

namespace SharpTables.DiffTest.Tests;

/// <summary>The generator: deterministic from a seed, always valid, and keeping cases apart.</summary>
public class GeneratorTests
{
    private static readonly ulong[] s_seeds = [1, 2, 3, 42, 1234567, 99999999999];

    private static IEnumerable<BatchSpec> Batches(int perSeed = 2) =>
        s_seeds.SelectMany(s => Enumerable.Range(0, perSeed).Select(i => BatchGenerator.Generate(s, i, 12)));

    private static string Text(BatchSpec b) =>
        b.RulesText + string.Join("\n", b.Lines.Select(l => l.Line.ToJsonString())) + BatchFiles.MetaJson(b).ToJsonString();

    [Fact]
    public void The_same_seed_gives_the_same_batch()
    {
        foreach (var s in s_seeds)
            Assert.Equal(Text(BatchGenerator.Generate(s, 3, 12)), Text(BatchGenerator.Generate(s, 3, 12)));
    }

    [Fact]
    public void The_recorded_corpus_is_what_the_current_generator_makes()
    {
        // tests/fixtures/differential/README.md promises that the seed regenerates the corpus; a generator
        // change must bump BatchGenerator.Version and re-record it.
        foreach (var dir in Directory.GetDirectories(Corpus.Root, "b*"))
        {
            using var meta = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, BatchFiles.Meta)));
            var m = meta.RootElement;
            Assert.Equal(BatchGenerator.Version, m.GetProperty("generator").GetInt32());
            var cases = m.GetProperty("cases").EnumerateArray().ToList();
            var attempts = cases.ToDictionary(c => c.GetProperty("id").GetInt32(), c => c.GetProperty("attempt").GetInt32());
            var b = BatchGenerator.Generate(m.GetProperty("seed").GetUInt64(), m.GetProperty("index").GetInt32(), cases.Count, attempts: attempts);
            Assert.Equal(File.ReadAllText(Path.Combine(dir, BatchFiles.Rules)), b.RulesText);
            Assert.Equal(File.ReadAllText(Path.Combine(dir, BatchFiles.Scenario)),
                string.Concat(b.Lines.Select(l => l.Line.ToJsonString() + "\n")));
        }
    }

    [Fact]
    public void Other_seeds_and_batch_numbers_give_other_batches()
    {
        var texts = s_seeds.SelectMany(s => new[] { Text(BatchGenerator.Generate(s, 0, 12)), Text(BatchGenerator.Generate(s, 1, 12)) }).ToList();
        Assert.Equal(texts.Count, texts.Distinct().Count());
    }

    [Fact]
    public void A_refused_case_is_regenerated_alone()
    {
        var first = BatchGenerator.Generate(5, 0, 6);
        var again = BatchGenerator.Generate(5, 0, 6, attempts: new Dictionary<int, int> { [3] = first.Cases.First(c => c.Id == 3).Attempt + 1 });
        foreach (var (a, b) in first.Cases.Zip(again.Cases))
        {
            bool same = a.Tables.Values.SelectMany(t => t.Chains).SelectMany(c => c.Rules)
                .SequenceEqual(b.Tables.Values.SelectMany(t => t.Chains).SelectMany(c => c.Rules));
            Assert.True(same == (a.Id != 3), $"case {a.Id}");
        }
    }

    [Fact]
    public void Every_batch_loads_with_our_restore()
    {
        foreach (var b in Batches(4))
            Assert.Null(BatchGenerator.Validate(b.RulesText));
    }

    [Fact]
    public void The_generator_rarely_needs_a_second_attempt()
    {
        var batches = Batches(4).ToList();
        int cases = batches.Sum(b => b.Cases.Count);
        int retried = batches.Sum(b => b.Cases.Count(c => c.Attempt > 0));
        Assert.True(retried * 20 < cases, $"{retried} of {cases} cases needed another attempt: " +
            string.Join("\n", batches.SelectMany(b => b.Notes).Take(5)));
    }

    [Fact]
    public void Every_packet_is_from_or_to_its_own_case()
    {
        foreach (var b in Batches())
            foreach (var (line, id) in b.Lines.Where(l => (string?)l.Line["type"] != "listen"))
            {
                var c = b.Cases.Single(x => x.Id == id);
                Assert.Equal("c" + id, (string?)line["label"]);
                if ((string?)line["type"] == "tcp_connect")
                {
                    Assert.True(c.IsTail, "only the tail case uses real connections");
                    continue;
                }
                string src = (string)line["src"]!, dst = (string)line["dst"]!;
                var own = c.ClientAddrs.Concat(c.BackendAddrs).ToList();
                Assert.True(own.Contains(src) || own.Contains(dst), $"{line.ToJsonString()} is not case {id}'s");
            }
    }

    [Fact]
    public void Every_own_address_that_receives_packets_also_sends_one()
    {
        // oracle-run only installs static neighbour entries for packet sources; anything else would need ARP.
        foreach (var b in Batches())
        {
            var sources = b.Lines.Select(l => (string?)l.Line["src"]).Where(s => s != null).ToHashSet();
            foreach (var (line, id) in b.Lines)
            {
                var c = b.Cases.SingleOrDefault(x => x.Id == id);
                if (c == null || (string?)line["dst"] is not { } dst || !(c.ClientAddrs.Contains(dst) || c.BackendAddrs.Contains(dst))) continue;
                Assert.Contains(dst, sources);
            }
        }
    }

    [Fact]
    public void Cases_that_reject_with_icmp_send_at_most_six_packets_per_address()
    {
        // The kernel sends 6 ICMP errors to one address at once, then one per second: more would make the run timing-dependent.
        foreach (var b in Batches(3))
            foreach (var c in b.Cases.Where(c => c.Features.Contains("reject-icmp")))
            {
                var perSource = new Dictionary<string, int>();
                foreach (var (line, id) in b.Lines.Where(l => l.Case == c.Id))
                {
                    if ((string?)line["type"] == "tcp_connect" || (string?)line["src"] is not { } src) continue;
                    if (!c.ClientAddrs.Contains(src) && !c.BackendAddrs.Contains(src)) continue;
                    bool error = (string?)line["proto"] == "icmp" && (int?)line["icmp_type"] is 3 or 4 or 5 or 11 or 12;
                    if (error || (int?)line["frag"] > 0) continue;
                    perSource[src] = perSource.GetValueOrDefault(src) + ((int?)line["count"] ?? 1);
                }
                Assert.All(perSource, kv => Assert.True(kv.Value <= 6, $"batch {b.Index} case {c.Id}: {kv.Key} sends {kv.Value}"));
            }
    }

    [Fact]
    public void Each_case_is_dispatched_from_every_built_in_chain()
    {
        foreach (var b in Batches())
        {
            var lines = b.RulesText.Split('\n');
            foreach (var table in b.TableNames)
                foreach (var hook in Tables.Chains(table))
                {
                    var owners = b.BuiltinOwners[$"{table}/{hook}"];
                    foreach (var c in b.Cases.Where(c => !c.IsTail))
                    {
                        // -s and -d for each owned block, nothing else for the case in the built-in chain.
                        Assert.Equal(b.Router ? 4 : 2, owners.Count(o => o == c.Id));
                        var blocks = b.Router ? new[] { c.ClientBlock, c.BackendBlock } : [c.ClientBlock];
                        foreach (var block in blocks)
                            foreach (var dir in new[] { "-s", "-d" })
                                Assert.Contains(lines, l => l.StartsWith($"-A {hook} {dir} {block} -j ", StringComparison.Ordinal));
                    }
                    // The tail case's rules come after every dispatch rule.
                    int firstTail = owners.IndexOf(0);
                    if (firstTail >= 0) Assert.All(owners.Skip(firstTail), o => Assert.Equal(0, o));
                }
        }
    }

    [Fact]
    public void Shared_kernel_names_carry_the_case_id()
    {
        foreach (var b in Batches())
            foreach (var c in b.Cases)
                foreach (var rule in c.Tables.Values.SelectMany(t => t.Chains).SelectMany(ch => ch.Rules))
                {
                    foreach (Match m in Regex.Matches(rule, @"--name (\S+)")) Assert.StartsWith($"c{c.Id}_", m.Groups[1].Value);
                    foreach (Match m in Regex.Matches(rule, @"--hashlimit-name (\S+)")) Assert.StartsWith($"c{c.Id}h", m.Groups[1].Value);
                    foreach (Match m in Regex.Matches(rule, "--log-prefix \"([^\"]*)\""))
                    {
                        Assert.StartsWith($"{b.Tag}c{c.Id}r", m.Groups[1].Value);
                        Assert.True(m.Groups[1].Value.Length <= 29);
                    }
                    if (rule.Contains("-m recent")) Assert.Contains("--name ", rule);
                }
    }

    [Fact]
    public void Time_dependent_matches_stay_clear_of_the_run_length()
    {
        foreach (var b in Batches(3))
            foreach (var rule in b.Cases.SelectMany(c => c.Tables.Values).SelectMany(t => t.Chains).SelectMany(ch => ch.Rules))
            {
                foreach (Match m in Regex.Matches(rule, @"--(?:limit|hashlimit-upto|hashlimit-above) (\d+)/(\w+)"))
                    Assert.True(m.Groups[2].Value is "hour" or "day" || m.Value.EndsWith("10000/sec") || m.Value.EndsWith("1/min"), rule);
                foreach (Match m in Regex.Matches(rule, @"--seconds (\d+)")) Assert.True(int.Parse(m.Groups[1].Value) >= 90, rule);
                if (rule.Contains("-m hashlimit")) Assert.Contains("--hashlimit-htable-expire 600000", rule);
                Assert.DoesNotContain("--random", rule);
                Assert.DoesNotMatch(@"--to-source \S+:", rule);
            }
    }

    [Fact]
    public void Scenario_lines_are_valid_oracle_input()
    {
        string[] packetKeys =
        [
            "type", "dir", "label", "src", "dst", "proto", "sport", "dport", "flags", "seq", "ack", "tcp_options", "icmp_type",
            "icmp_code", "icmp_seq", "quote", "ttl", "tos", "ip_flags", "frag", "payload_len", "iface", "count", "interval_ms",
        ];
        foreach (var b in Batches())
            foreach (var (line, _) in b.Lines)
            {
                string type = (string?)line["type"] ?? "packet";
                Assert.Contains(type, new[] { "packet", "listen", "tcp_connect" });
                if (type != "packet") continue;
                Assert.All(line.Select(kv => kv.Key), k => Assert.Contains(k, packetKeys));
                Assert.Contains((string)line["dir"]!, new[] { "in", "out", "fwd", "fwd-rev", "local" });
                if (!b.Router) Assert.DoesNotContain((string)line["dir"]!, new[] { "fwd", "fwd-rev" });
                int payload = (int?)line["payload_len"] ?? 0;
                Assert.True(payload + 60 <= 1500, "fits the veth MTU");
            }
    }
}
