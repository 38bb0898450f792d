using System.Net;
using System.Net.Sockets;
using SharpTables.Engine;

namespace SharpTables.Daemon;

/// <summary>
/// Sends the packets the engine generates itself (REJECT's TCP resets and ICMP errors, after the
/// engine ran them through OUTPUT and POSTROUTING) through raw sockets with IP_HDRINCL. Each
/// socket carries <see cref="Diversion.BypassMark"/>, so the kernel's OUTPUT hook does not queue the
/// reply to the daemon a second time. Sockets open on first use; sending allocates nothing.
/// One sender per thread (its destination buffers are reused); the totals may be read from any thread.
/// </summary>
public sealed class ReplySender : IDisposable
{
    private Socket? _raw4, _raw6;
    private readonly SocketAddress _to4 = new(AddressFamily.InterNetwork);
    private readonly SocketAddress _to6 = new(AddressFamily.InterNetworkV6);

    private long _sent, _failed;

    /// <summary>Replies handed to the kernel.</summary>
    public long Sent => Interlocked.Read(ref _sent);
    /// <summary>Replies the kernel refused (no route, EPERM from another firewall, ...).</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Sends one IPv4 or IPv6 packet (bytes from the IP header) as it is.</summary>
    public void Send(ReadOnlySpan<byte> packet)
    {
        if (packet.Length < 20) return;
        int version = packet[0] >> 4;
        Socket socket;
        SocketAddress to;
        if (version == 4)
        {
            socket = _raw4 ??= Open(AddressFamily.InterNetwork);
            to = _to4;
            // struct sockaddr_in: family, port, then the destination address at offset 4.
            packet.Slice(16, 4).CopyTo(to.Buffer.Span[4..]);
        }
        else if (version == 6 && packet.Length >= 40)
        {
            socket = _raw6 ??= Open(AddressFamily.InterNetworkV6);
            to = _to6;
            // struct sockaddr_in6: family, port, flowinfo, then the address at offset 8.
            packet.Slice(24, 16).CopyTo(to.Buffer.Span[8..]);
        }
        else return;
        try
        {
            socket.SendTo(packet, SocketFlags.None, to);
            Interlocked.Increment(ref _sent);
        }
        catch (SocketException)
        {
            Interlocked.Increment(ref _failed);
        }
    }

    private static Socket Open(AddressFamily family)
    {
        // IPPROTO_RAW implies IP_HDRINCL (and IPV6_HDRINCL): we give the whole IP header.
        var s = new Socket(family, SocketType.Raw, ProtocolType.Raw);
        Span<byte> mark = stackalloc byte[4];
        BitConverter.TryWriteBytes(mark, Diversion.BypassMark);
        s.SetRawSocketOption(1 /* SOL_SOCKET */, 36 /* SO_MARK */, mark);
        return s;
    }

    public void Dispose()
    {
        _raw4?.Dispose();
        _raw6?.Dispose();
    }
}
