using SharpTables.Rules.Extensions.Mac;

namespace SharpTables.Engine.Matches;

/// <summary>
/// <c>-m mac</c> (xt_mac): the Ethernet source address. Without an Ethernet header (no
/// link-layer header, or a packet that came over lo, whose device is not ARPHRD_ETHER) the match
/// fails whether inverted or not.
/// </summary>
public sealed class MacMatchCompiler : MatchCompiler<MacMatch>
{
    protected override CompiledMatch Compile(MacMatch m, CompileContext ctx) => new Compiled(m.Source.ToArray(), m.Invert);

    private sealed class Compiled(byte[] source, bool invert) : CompiledMatch
    {
        public override bool Matches(Packet p, ref bool hotdrop)
        {
            if (p.In == null || p.In.IsLoopback || p.MacHeaderLength < 14) return false;
            bool equal = p.MacHeader.AsSpan(6, 6).SequenceEqual(source);
            return equal ^ invert;
        }
    }
}
