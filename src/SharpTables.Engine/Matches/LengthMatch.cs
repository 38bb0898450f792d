using SharpTables.Rules.Extensions.Length;

namespace SharpTables.Engine.Matches;

/// <summary>
/// <c>-m length</c> (xt_length): the length the IP header states (IPv4 total length, IPv6
/// payload length + 40), not the bytes captured.
/// </summary>
public sealed class LengthMatchCompiler : MatchCompiler<LengthMatch>
{
    protected override CompiledMatch Compile(LengthMatch m, CompileContext ctx) => new Compiled(m.Min, m.Max, m.Invert);

    private sealed class Compiled(ushort min, ushort max, bool invert) : CompiledMatch
    {
        public override bool Matches(Packet p, ref bool hotdrop)
        {
            int length = p.Info.TotalLength;
            return (length >= min && length <= max) ^ invert;
        }
    }
}
