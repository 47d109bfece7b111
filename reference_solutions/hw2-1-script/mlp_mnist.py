# HW2-1 (script): handwritten digits with a multi-layer perceptron, in the course's own
# form: one script that loads MNIST with torchvision, trains, prints each epoch's figures
# and saves the model's state_dict.  Reference solution.
import torch
import torch.nn as nn
import torchvision
import torchvision.transforms as transforms

# ---------------------------------------------------------------- hyper-parameters
data_dir = "./data"
input_size = 784
hidden_size = 500
num_classes = 10
num_epochs = 3
batch_size = 100
learning_rate = 0.001

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

# ---------------------------------------------------------------- data
train_dataset = torchvision.datasets.MNIST(
    root=data_dir, train=True, transform=transforms.ToTensor(), download=True
)
test_dataset = torchvision.datasets.MNIST(
    root=data_dir, train=False, transform=transforms.ToTensor()
)
train_loader = torch.utils.data.DataLoader(
    dataset=train_dataset, batch_size=batch_size, shuffle=True
)
test_loader = torch.utils.data.DataLoader(
    dataset=test_dataset, batch_size=batch_size, shuffle=False
)


# ---------------------------------------------------------------- the model
class MLP_model(nn.Module):
    """input -> fully connected (hidden_size) -> ReLU -> fully connected (num_classes)"""

    def __init__(self, input_size, hidden_size, num_classes):
        super().__init__()
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        out = self.fc1(x)
        out = self.relu(out)
        out = self.fc2(out)
        return out


def evaluate(model, loader):
    """The model's accuracy on ``loader`` (a fraction between 0 and 1)."""
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in loader:
            images = images.reshape(-1, input_size).to(device)
            labels = labels.to(device)
            predicted = model(images).argmax(dim=1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    model.train()
    return correct / total


# ---------------------------------------------------------------- training
torch.manual_seed(0)
model = MLP_model(input_size, hidden_size, num_classes).to(device)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)

for epoch in range(num_epochs):
    total_loss = 0.0
    for images, labels in train_loader:
        images = images.reshape(-1, input_size).to(device)
        labels = labels.to(device)
        outputs = model(images)
        loss = criterion(outputs, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * labels.size(0)
    train_accuracy = evaluate(model, train_loader)
    test_accuracy = evaluate(model, test_loader)
    print(
        f"Epoch: {epoch + 1}/{num_epochs}, "
        f"Train Loss is: {total_loss / len(train_dataset):.4f}, "
        f"Train Accuracy is: {train_accuracy:.4f}, "
        f"Test Accuracy is: {test_accuracy:.4f}"
    )

torch.save(model.state_dict(), "checkpoints/dnn.pth")
