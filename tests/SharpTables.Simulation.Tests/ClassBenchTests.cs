using SharpTables.Engine;
using SharpTables.Rules.Commands;
using SharpTables.Rules.Model;
using Xunit.Abstractions;

namespace SharpTables.Simulation.Tests;

/// <summary>
/// ClassBench rule sets and traces whose first matches were checked against the kernel: the
/// engine must pick the same first-matching rule for every header. The 1K and 10K traces run
/// completely; the 100K traces run their first 20,000 headers here (the same prefix the data's
/// own kernel check used); `sharptables classbench --all` runs every header.
/// </summary>
public class ClassBenchTests(ITestOutputHelper output)
{
    public static TheoryData<string, int> Sets => new()
    {
        { "acl1_1K", int.MaxValue }, { "fw1_1K", int.MaxValue }, { "ipc1_1K", int.MaxValue },
        { "acl1_10K", int.MaxValue }, { "fw1_10K", int.MaxValue }, { "ipc1_10K", int.MaxValue },
        { "acl1_100K", 20_000 }, { "fw1_100K", 20_000 }, { "ipc1_100K", 20_000 },
    };

    [Theory]
    [MemberData(nameof(Sets))]
    public void Engine_agrees_with_the_verified_first_match_of_every_header(string set, int limit)
    {
        var dir = ClassBench.DataDirectory(Paths.Repo);
        if (dir == null)
        {
            // ClassBench is licensed for research use and lives only in shared/, never in this repository.
            output.WriteLine($"SKIPPED: ClassBench data not found beside the repository (../shared/bench/classbench/data); set SHARPTABLES_SHARED");
            return;
        }
        var result = ClassBenchRun.Run(dir, set, limit);
        Assert.True(result.Headers > 0);
        Assert.True(result.Mismatches.Count == 0,
            $"{set}: {result.Mismatches.Count} of {result.Headers} headers disagree, e.g. {string.Join("; ", result.Mismatches.Take(5))}");
    }
}
