using System.Net.Sockets;
using System.Text;

namespace SharpTables.Daemon;

/// <summary>
/// sd_notify(3) without libsystemd: the state line (say <c>READY=1</c>) as one datagram to the
/// unix socket systemd names in $NOTIFY_SOCKET for a <c>Type=notify</c> unit. A name starting
/// with '@' is in the abstract namespace.
/// </summary>
public static class SystemdNotify
{
    /// <summary>The environment variable systemd sets for the service's main process.</summary>
    public const string Variable = "NOTIFY_SOCKET";

    /// <summary>Sends <paramref name="state"/> to <paramref name="socket"/>; false when there is no socket (not run by systemd) or the send failed.</summary>
    public static bool Send(string? socket, string state)
    {
        if (string.IsNullOrEmpty(socket) || socket[0] is not ('/' or '@')) return false;
        try
        {
            using var s = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            s.SendTo(Encoding.UTF8.GetBytes(state), new UnixDomainSocketEndPoint(socket[0] == '@' ? "\0" + socket[1..] : socket));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
