using System.Runtime.InteropServices;

namespace SharpTables.Netlink;

/// <summary>Network namespaces made with <c>ip netns add</c> (their handles live in /run/netns).</summary>
public static partial class NetworkNamespace
{
    private const int CloneNewNet = 0x40000000;

    /// <summary>
    /// Runs <paramref name="create"/> on a fresh thread that joined namespace <paramref name="ns"/>
    /// with setns, and returns its result. Sockets keep the namespace they were made in, so this
    /// is how a process opens sockets inside another namespace; the thread ends right after.
    /// </summary>
    public static T Run<T>(string ns, Func<T> create)
    {
        T? result = default;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var fd = File.OpenHandle($"/run/netns/{ns}");
                if (setns((int)fd.DangerousGetHandle(), CloneNewNet) != 0)
                    throw new InvalidOperationException($"setns {ns}: errno {Marshal.GetLastPInvokeError()}");
                result = create();
            }
            catch (Exception e)
            {
                error = e;
            }
        });
        thread.Start();
        thread.Join();
        if (error != null) throw error;
        return result!;
    }

    [LibraryImport("libc", SetLastError = true)] private static partial int setns(int fd, int nstype);
}
