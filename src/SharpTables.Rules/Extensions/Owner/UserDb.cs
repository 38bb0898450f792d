namespace SharpTables.Rules.Extensions.Owner;

/// <summary>
/// User and group names (getpwnam/getgrnam and back), read from passwd/group files like the C
/// library's "files" source. <see cref="Current"/> is what the owner match uses; tests may replace it.
/// </summary>
public sealed class UserDb
{
    private readonly List<(string Name, uint Id)> _users = [];
    private readonly List<(string Name, uint Id)> _groups = [];

    public static UserDb Current { get; set; } = Load("/etc/passwd", "/etc/group");

    public static UserDb Load(string passwdPath, string groupPath)
    {
        var db = new UserDb();
        Read(passwdPath, db._users);
        Read(groupPath, db._groups);
        return db;
    }

    /// <summary>A database with the given entries only.</summary>
    public static UserDb Of(IEnumerable<(string Name, uint Id)> users, IEnumerable<(string Name, uint Id)> groups)
    {
        var db = new UserDb();
        db._users.AddRange(users);
        db._groups.AddRange(groups);
        return db;
    }

    private static void Read(string path, List<(string, uint)> into)
    {
        try
        {
            foreach (var line in File.ReadLines(path))
            {
                var f = line.Split(':');
                if (f.Length >= 3 && f[0].Length > 0 && uint.TryParse(f[2], out uint id)) into.Add((f[0], id));
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    public uint? UserId(string name) => Find(_users, name);
    public uint? GroupId(string name) => Find(_groups, name);
    public string? UserName(uint id) => _users.FirstOrDefault(u => u.Id == id).Name;
    public string? GroupName(uint id) => _groups.FirstOrDefault(g => g.Id == id).Name;

    private static uint? Find(List<(string Name, uint Id)> list, string name)
    {
        foreach (var (n, id) in list) if (n == name) return id;
        return null;
    }
}
