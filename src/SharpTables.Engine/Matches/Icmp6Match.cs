using SharpTables.Rules.Extensions.Icmp6;

namespace SharpTables.Engine.Matches;

/// <summary><c>-m icmp6</c>: ip6_tables' icmp6_match, the IPv6 twin of icmp (fragments never match, a short header hot-drops).</summary>
public sealed class Icmp6MatchCompiler : MatchCompiler<Icmp6Match>
{
    protected override CompiledMatch Compile(Icmp6Match m, CompileContext ctx) => new Compiled(m.Type, m.CodeMin, m.CodeMax, m.Invert);

    private sealed class Compiled(byte type, byte codeMin, byte codeMax, bool invert) : CompiledMatch
    {
        public override bool Matches(Packet p, ref bool hotdrop)
        {
            if (p.Info.IsFragment) return false;
            int off = p.Info.TransportOffset;
            if (off < 0 || p.Length < off + 4)
            {
                hotdrop = true;
                return false;
            }
            byte t = p.Buffer[off], c = p.Buffer[off + 1];
            return (t == type && c >= codeMin && c <= codeMax) ^ invert;
        }
    }
}
