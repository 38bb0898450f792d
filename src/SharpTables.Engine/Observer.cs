using SharpTables.Rules.Model;

namespace SharpTables.Engine;

/// <summary>A LOG target firing: the syslog level, the line as the kernel prints it (after the timestamp), and the rule's --log-prefix (the start of the line).</summary>
public readonly record struct LogRecord(int Level, string Text, long PacketNumber, string Prefix = "");

/// <summary>An NFLOG target firing.</summary>
public readonly record struct NflogRecord(ushort Group, string Prefix, Hook Hook, long PacketNumber);

/// <summary>How a rule was reached, for --trace (the kernel's TRACE: rule, return, policy).</summary>
public enum TraceKind : byte { Rule, Return, Policy }

/// <summary>
/// Receives what the engine does besides verdicts. Every method has a no-op default, so an
/// observer implements only what it needs. Calls happen on the packet path, on the thread that
/// walks the packet (several at once when several threads use the engine); keep them cheap.
/// </summary>
public interface IEngineObserver
{
    void OnLog(in LogRecord record) { }
    void OnNflog(in NflogRecord record) { }
    /// <summary>A rule matched (or a policy/return applied) while tracing is on.</summary>
    void OnTrace(Packet p, string table, string chain, TraceKind kind, int ruleNumber) { }
    /// <summary>Whether <see cref="OnTrace"/> should be called at all (checked once per packet).</summary>
    bool Tracing => false;
    /// <summary>A packet the host generated itself while processing another (a REJECT reply) went through OUTPUT/POSTROUTING.</summary>
    void OnLocalOut(Packet p, in PacketResult result) { }
}

/// <summary>The observer that does nothing.</summary>
public sealed class NullObserver : IEngineObserver
{
    public static readonly NullObserver Instance = new();
}
